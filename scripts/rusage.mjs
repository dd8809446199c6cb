// Loaded with `node --import ./scripts/rusage.mjs`: at exit, writes the process's peak
// resident set size to the file named in FLEET_RUSAGE_FILE (used by the benchmarks).
import { writeFileSync } from 'node:fs';

const file = process.env.FLEET_RUSAGE_FILE;
if (file) {
  process.on('exit', () => {
    writeFileSync(file, JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
  });
}
