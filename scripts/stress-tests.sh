#!/usr/bin/env bash
# Runs the test suite N times while a CPU burner keeps every core busy, to find races that
# only show on a loaded machine (a shared CI runner, a laptop doing other work).
#
#   scripts/stress-tests.sh [--only PATTERN]... [--no-build] [--keep-slurm-logs] N
#
#   N                  how many runs (whole number >= 1)
#   --only PATTERN     run only the test files whose path contains PATTERN (vitest's file
#                      filter; repeat for several), e.g. --only test/executors/slurm
#   --no-build         skip the one type check and build before the runs (dist/ must be current)
#   --keep-slurm-logs  keep the one-node Slurm clusters' folders with debug2 daemon logs
#                      (SLURM_TEST_KEEP_LOGS=1, see test/support/slurm.ts); their paths are printed
#
# The type check and build run once, before the burner starts; then each run is
# `npm run test:run` (the vitest part of `npm test`). After each run the failed tests are
# printed with the first lines of their error, and at the end a summary counts the failing
# runs and how often each test failed. Every run's full output stays in a folder whose path
# is printed. Exit status: 0 when every run passed, 1 otherwise, 2 for bad arguments.
# The burner (scripts/cpu-burner.sh) is stopped on exit, error and Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

runs=""
build=1
patterns=()
while (($# > 0)); do
  case "$1" in
    --only)
      [ $# -ge 2 ] || { echo "stress-tests.sh: --only needs a PATTERN." >&2; exit 2; }
      patterns+=("$2")
      shift 2
      ;;
    --no-build) build=0; shift ;;
    --keep-slurm-logs) export SLURM_TEST_KEEP_LOGS=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "stress-tests.sh: unknown option $1 (see --help)." >&2; exit 2 ;;
    *)
      [ -z "$runs" ] || { echo "stress-tests.sh: give N once (got $runs and $1)." >&2; exit 2; }
      runs="$1"
      shift
      ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "stress-tests.sh: N must be a whole number >= 1 (got '${runs}'); e.g. scripts/stress-tests.sh 10." >&2
  exit 2
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/stress-tests.XXXXXX")"
burner=""
run_group=""
stop_burner() {
  if [ -n "$burner" ]; then
    kill -TERM "$burner" 2>/dev/null || true
    wait "$burner" 2>/dev/null || true
    burner=""
  fi
}
# Each run has a process group of its own (setsid), so that it can be stopped as a whole:
# SIGINT, as a Ctrl-C would send, lets the test servers and Slurm daemons shut down too.
stop_run() {
  if [ -n "$run_group" ]; then
    kill -INT -- "-$run_group" 2>/dev/null || true
    wait "$run_group" 2>/dev/null || true
    run_group=""
  fi
}
interrupted() {
  stop_run
  stop_burner
  echo "stress-tests.sh: interrupted; outputs in $out" >&2
  exit 130
}
trap 'stop_run; stop_burner' EXIT
trap interrupted INT TERM

if ((build)); then
  npm run --silent typecheck
  npm run --silent build >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
fi

scripts/cpu-burner.sh &
burner=$!
echo "stress-tests.sh: $runs run(s) of ${patterns[*]:-the whole suite} with $(nproc) busy loop(s); outputs in $out"

# Prints "<file> > <test name>" and the first error lines of each failed test in a vitest
# JSON report, and appends the test names to $out/failed-tests.
report_failures() {
  node --input-type=module -e '
    import { readFileSync, appendFileSync } from "node:fs";
    const [report, list] = process.argv.slice(1);
    let json;
    try { json = JSON.parse(readFileSync(report, "utf8")); } catch { process.exit(3); }
    for (const file of json.testResults ?? []) {
      const rel = file.name.replace(process.cwd() + "/", "");
      const failed = (file.assertionResults ?? []).filter((t) => t.status === "failed");
      // A file that failed outside any test (import error, hook timeout) has a message of its own.
      if (failed.length === 0 && file.status === "failed") failed.push({ fullName: "(file)", failureMessages: [file.message ?? ""] });
      for (const t of failed) {
        const name = `${rel} > ${t.fullName}`;
        appendFileSync(list, name + "\n");
        console.log(`  FAIL ${name}`);
        const text = (t.failureMessages ?? []).join("\n").replace(/\x1b\[[0-9;]*m/g, "");
        for (const line of text.split("\n").filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 6)) console.log(`       ${line.slice(0, 200)}`);
      }
    }
  ' "$1" "$out/failed-tests"
}

failed_runs=0
: >"$out/failed-tests"
for ((i = 1; i <= runs; i++)); do
  start=$SECONDS
  # In the background with `wait`, so that a signal to this script is handled at once.
  setsid npm run --silent test:run -- "${patterns[@]}" --reporter=default --reporter=json \
    --outputFile.json="$out/run-$i.json" >"$out/run-$i.log" 2>&1 &
  run_group=$!
  rc=0
  wait "$run_group" || rc=$?
  run_group=""
  took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    echo "run $i/$runs: passed (${took} s)"
  else
    failed_runs=$((failed_runs + 1))
    echo "run $i/$runs: FAILED, exit $rc (${took} s); output: $out/run-$i.log"
    if ! report_failures "$out/run-$i.json"; then
      echo "  (no JSON report; last lines of the output:)"
      tail -n 15 "$out/run-$i.log" | sed 's/^/       /'
    fi
  fi
  if [ -n "${SLURM_TEST_KEEP_LOGS:-}" ]; then
    grep -ho 'Slurm test cluster kept[^:]*: .*' "$out/run-$i.log" | sed 's/^/  /' || true
  fi
done

stop_burner
echo
echo "stress-tests.sh: $((runs - failed_runs))/$runs run(s) passed under load; outputs in $out"
if [ -s "$out/failed-tests" ]; then
  echo "failures by test (count, test):"
  sort "$out/failed-tests" | uniq -c | sort -rn | sed 's/^/  /'
  exit 1
fi
