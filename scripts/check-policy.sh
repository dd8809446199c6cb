#!/bin/sh
# Check every CFEngine policy file under infra/cfengine (or the directory given) with
# `cf-promises --full-check`, each file on its own, in a throw-away work directory, so that
# the host's /var/lib/cfengine3 is never read or written.
#
#   scripts/check-policy.sh [DIR]
#
# Files other than the entries (promises.cf, update.cf) define `bundle agent __main__`, the
# entry bundle only when the file itself is the entry: so each file checks alone, with what
# its `body file control` includes, and a file that uses an undefined body fails on its own.
# Exit 0 when every file passes; 1 when one does not (each failure is printed); 2 when
# cf-promises is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../infra/cfengine}
if ! command -v cf-promises >/dev/null 2>&1; then
  echo "check-policy: cf-promises is not installed (Debian: apt-get install cfengine3; scripts/test-deps.sh)" >&2
  exit 2
fi
dir=$(cd "$dir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-check-policy.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

files=$(find "$dir" -name '*.cf' -type f | LC_ALL=C sort)
if [ -z "$files" ]; then
  echo "check-policy: no .cf file under $dir" >&2
  exit 1
fi

failed=0 n=0
for f in $files; do
  n=$((n + 1))
  if out=$(CFENGINE_TEST_OVERRIDE_WORKDIR=$work cf-promises --full-check -f "$f" 2>&1); then
    echo "ok   ${f#"$dir"/}"
  else
    echo "FAIL ${f#"$dir"/}" >&2
    printf '%s\n' "$out" | sed 's/^/     /' >&2
    failed=$((failed + 1))
  fi
done

if [ "$failed" -gt 0 ]; then
  echo "check-policy: $failed of $n policy files failed" >&2
  exit 1
fi
echo "check-policy: $n policy files ok"
