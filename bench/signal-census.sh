#!/usr/bin/env bash
# Signal census: runs a command (default: `cargo test`) while the kernel
# traces every signal generated on the machine, then lists each signal that a
# `stray` process sent, by target comm. Answers "did the suite ever signal a
# process it did not create?" with the kernel's own record, not the tests'.
#
# Needs root. tracefs is mounted only inside a private mount namespace, and
# the trace instance (instances/stray-census-$$) is removed on exit.
# Usage: bench/signal-census.sh [COMMAND...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "signal-census: needs root" >&2; exit 2; }
[ $# -gt 0 ] || set -- cargo test
out=$(mktemp -d)
trace="$out/trace.txt"
mnt="$out/tracefs"
mkdir -p "$mnt"
# A private mount namespace holds the tracefs mount; a reader inside it copies
# the events out until the command ends.
unshare -m --propagation private bash -c '
  set -e
  mount -t tracefs nodev "$1"
  inst="$1/instances/stray-census-$$"
  mkdir "$inst"
  echo 16384 >"$inst/buffer_size_kb"
  echo 1 >"$inst/events/signal/signal_generate/enable"
  cat "$inst/trace_pipe" >"$2" &
  reader=$!
  echo ready >"$3/ready"
  while [ ! -e "$3/done" ]; do sleep 0.2; done
  echo 0 >"$inst/events/signal/signal_generate/enable"
  sleep 0.5
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  rmdir "$inst"
' census "$mnt" "$trace" "$out" &
census=$!
while [ ! -e "$out/ready" ]; do sleep 0.1; done
status=0
"$@" >"$out/command.log" 2>&1 || status=$?
touch "$out/done"
wait "$census"
echo "command: $* (exit $status; log $out/command.log)"
# Lines look like: "  stray-1234  [001] ..... 12.3: signal_generate: sig=15 errno=0 code=0 comm=stx pid=99 grp=1 res=0"
python3 - "$trace" <<'PY'
import re, sys, collections
sent = collections.Counter()
total = 0
pat = re.compile(r'^\s*(.+?)-(\d+)\s+\[\d+\].*signal_generate: sig=(\d+) errno=\d+ code=\S+ comm=(.*?) pid=(\d+) grp=\d+ res=(\d+)')
for line in open(sys.argv[1], errors="replace"):
    m = pat.match(line)
    if not m:
        continue
    total += 1
    sender, _, sig, target, _, res = m.groups()
    # SIGCHLD to its parent is the kernel reporting stray's own exit.
    if sender == "stray" and int(sig) != 17:
        sent[(target, int(sig), int(res))] += 1
print(f"signals traced: {total}; sent by stray: {sum(sent.values())}")
for (target, sig, res), n in sorted(sent.items()):
    print(f"  {n:5d}  sig {sig:2d} -> {target}  (result {res})")
PY
exit "$status"
