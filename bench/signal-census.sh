#!/usr/bin/env bash
# Signal census: runs a command (default: `cargo test`) while the kernel
# traces every fork and every signal generated on the machine, then lists
# each signal that a `stray` process started by the command sent, by target
# comm, and counts those whose target the command did not start (by fork
# lineage from the command's own pid). Answers "did the suite ever signal a
# process it did not create?" with the kernel's own record, not the tests',
# also on a machine where other work runs.
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
  echo 1 >"$inst/events/sched/sched_process_fork/enable"
  cat "$inst/trace_pipe" >"$2" &
  reader=$!
  echo ready >"$3/ready"
  while [ ! -e "$3/done" ]; do sleep 0.2; done
  echo 0 >"$inst/events/signal/signal_generate/enable"
  echo 0 >"$inst/events/sched/sched_process_fork/enable"
  sleep 0.5
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  rmdir "$inst"
' census "$mnt" "$trace" "$out" &
census=$!
while [ ! -e "$out/ready" ]; do sleep 0.1; done
status=0
# The command runs under a shell whose pid roots the lineage.
bash -c 'echo $$ >"$1"; shift; exec "$@"' census-root "$out/root.pid" "$@" >"$out/command.log" 2>&1 || status=$?
touch "$out/done"
wait "$census"
echo "command: $* (exit $status; log $out/command.log)"
# Lines look like: "  stray-1234  [001] ..... 12.3: signal_generate: sig=15 errno=0 code=0 comm=stx pid=99 grp=1 res=0"
python3 - "$trace" "$(cat "$out/root.pid")" <<'PY'
import re, sys, collections
root = int(sys.argv[2])
fork = re.compile(r'sched_process_fork: comm=.*? pid=(\d+) child_comm=.*? child_pid=(\d+)')
sig = re.compile(r'^\s*(.+?)-(\d+)\s+(?:\(\s*\S+\)\s+)?\[\d+\].*signal_generate: sig=(\d+) errno=\d+ code=\S+ comm=(.*?) pid=(\d+) grp=\d+ res=(\d+)')
ours = {root}
sent = collections.Counter()
foreign = []
total = 0
# Events come in order, so a pid joins `ours` at its fork, before it can act.
for line in open(sys.argv[1], errors="replace"):
    m = fork.search(line)
    if m:
        parent, child = int(m.group(1)), int(m.group(2))
        if parent in ours:
            ours.add(child)
        else:
            ours.discard(child)  # a recycled pid now belongs to someone else
        continue
    m = sig.match(line)
    if not m:
        continue
    total += 1
    sender, spid, signo, target, tpid, res = m.groups()
    # SIGCHLD to its parent is the kernel reporting stray's own exit.
    if sender != "stray" or int(spid) not in ours or int(signo) == 17:
        continue
    sent[(target, int(signo), int(res))] += 1
    if int(tpid) not in ours:
        foreign.append(line.strip())
print(f"signals traced: {total}; sent by the command's stray processes: {sum(sent.values())}; "
      f"to a process the command did not start: {len(foreign)}")
for (target, signo, res), n in sorted(sent.items()):
    print(f"  {n:5d}  sig {signo:2d} -> {target}  (result {res})")
for line in foreign:
    print("  FOREIGN:", line)
PY
exit "$status"
