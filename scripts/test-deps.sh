#!/usr/bin/env bash
# Debian packages that the tests run for real. Installs the missing ones with apt-get when
# run as root; otherwise says exactly what to install and fails.
#
# Each entry: "<command that must exist>:<Debian package>".
set -euo pipefail

NEEDED=(
  "shellcheck:shellcheck"     # lints the rendered user-data and scripts/
  "cf-agent:cfengine3"        # the real agent: policy checks and the sandboxed bootstrap
  "aws:awscli"                # the bootstrap's readiness report (create-tags) runs the real AWS CLI
  "curl:curl"                 # the bootstrap reads the instance metadata service with curl
  "/usr/share/java/zookeeper.jar:zookeeper"        # the coordination tests run a real server (Java is on the machines)
  "/usr/share/java/slf4j-simple.jar:libslf4j-java" # its log binding on the server's class path
  "chromium:chromium"         # the chaos rehearsal's HTML report is opened in a real headless browser
)

missing=()
for entry in "${NEEDED[@]+"${NEEDED[@]}"}"; do
  cmd="${entry%%:*}"
  pkg="${entry#*:}"
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -e "$cmd" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages: ${missing[*]}" >&2
  echo "test-deps: install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
