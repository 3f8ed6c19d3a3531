// Preloaded (node -r) into a benchmarked child process: when it exits, writes its CPU time and
// peak resident set size as JSON to the file named by BENCH_USAGE_FILE. Node has no way to
// read a child's rusage from the parent, and /usr/bin/time is not installed everywhere.
"use strict";
const { writeFileSync } = require("node:fs");

process.on("exit", () => {
  const file = process.env.BENCH_USAGE_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  writeFileSync(file, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, peakRssBytes: u.maxRSS * 1024 }));
});
