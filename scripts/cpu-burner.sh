#!/usr/bin/env bash
# Keeps every core busy until it is stopped: one shell busy loop per core (or per the given
# count). Used by scripts/stress-tests.sh to find races that only show on a loaded machine.
#
#   scripts/cpu-burner.sh [COUNT]     # COUNT defaults to the number of cores (nproc)
#
# Stop it with SIGTERM or SIGINT (Ctrl-C); it stops its loops before it exits. It also stops
# by itself once the process that started it is gone, so a killed caller leaves no loop
# behind. The loops run at normal priority on purpose: a nice'd burner would barely slow the
# tests down.
set -euo pipefail

count="${1:-$(nproc)}"
if ! [[ "$count" =~ ^[1-9][0-9]*$ ]]; then
  echo "cpu-burner.sh: COUNT must be a whole number >= 1 (got '$count')." >&2
  exit 2
fi

pids=()
stop() {
  trap - TERM INT EXIT
  if ((${#pids[@]} > 0)); then kill "${pids[@]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap 'stop; exit 0' TERM INT
trap stop EXIT

parent=$PPID
for ((i = 0; i < count; i++)); do
  # A shell of its own that traps nothing: SIGTERM from stop() ends it at once.
  bash -c 'while :; do :; done' &
  pids+=("$!")
done
# `sleep & wait` rather than a bare sleep: wait returns as soon as a signal arrives.
while kill -0 "$parent" 2>/dev/null; do
  sleep 1 &
  wait "$!" || true
done
