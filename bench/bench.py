#!/usr/bin/env python3
"""stray benchmark: a real process forest, interleaved timings, medians.

Run through bench/run.sh (which builds --release first):

    bench/run.sh [--sizes 200,1000,3000] [--runs 21] [--servers N] [--no-write]

For each size it grows a forest of real processes until the host holds about
that many: private tmux servers (own TMUX_TMPDIR, own -L socket names) whose
panes hold deep shell chains ending in a fake agent, orphaned agents,
headless agents under a live parent shell, a process holding many PTY
masters, and non-agent filler processes. Fake agents and filler are copies of
/bin/sleep under unique names, so no real program is ever matched.

With --servers N the pane windows are spread over exactly N tmux servers
(each holding at least one agent in a pane) at every size, instead of one
server per 40 windows: the cost of asking tmux for pane names grows with the
number of servers, not of processes.

Then every command is run once per round, in a rotating order (interleaved),
for --runs rounds after a warm-up; the table shows the median wall time, the
ratio to the command's baseline, and the peak RSS (max over runs, from
wait4's rusage).

Cleanup, also on error and on SIGINT/SIGTERM/SIGHUP: kill-server on every
private socket, then SIGKILL to every recorded pid whose start time still
matches, then the temp dir is removed and the process count is checked
against the baseline. Nothing is ever killed by name.
"""

import argparse
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DEPTH = 4  # shells between a pane and its agent
PS_ARGS = ["pid,ppid,tty,stat,comm,etime"]

CHAIN_SH = r"""# chain.sh DEPTH AGENT PIDFILE: DEPTH nested shells, then the agent.
echo $$ >> "$3"
if [ "$1" -gt 0 ]; then
  sh "$0" $(($1 - 1)) "$2" "$3"
  exit 0
fi
"$2" 3600 &
echo $! >> "$3"
wait
"""

SPAWN_SH = r"""# spawn.sh BIN N PIDFILE: N background copies of BIN; the shell then exits
# (orphans) or, with WAIT=1, stays as their parent (headless).
[ "${WAIT:-0}" = 1 ] && echo $$ >> "$3"
i=0
while [ $i -lt "$2" ]; do
  "$1" 3600 </dev/null >/dev/null 2>&1 &
  echo $! >> "$3"
  i=$((i + 1))
done
[ "${WAIT:-0}" = 1 ] && wait
exit 0
"""

FAMILY_SH = r"""# family.sh MCP JOB PIDFILE SESSION MODE: an agent session's family, as
# Claude Code leaves it: its markers exported to every child, a stdio
# MCP-like server behind a wrapper shell, a `setsid` background job. MODE
# live: this shell (a fake agent) stays as their parent; dead: it exits, so
# they are re-parented and their pid marker names a gone process.
[ "$5" = live ] && echo $$ >> "$3"
export SBFAM_SESS="$4" SBFAM_PID=$$ SBFAM=1
sh -c '"$0" 3600 </dev/null >/dev/null 2>&1 & echo $! >> "$1"; wait' "$1" "$3" </dev/null >/dev/null 2>&1 &
echo $! >> "$3"
setsid "$2" 3600 </dev/null >/dev/null 2>&1 &
echo $! >> "$3"
[ "$5" = live ] && wait
exit 0
"""

PTY_HOLDER = r"""
import os, sys, time
masters = []
for _ in range(int(sys.argv[1])):
    m, s = os.openpty()
    os.close(s)
    masters.append(m)
print("ready", flush=True)
time.sleep(3600)
"""


def proc_count():
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


def stat_of(pid):
    """(start_time, state) of a live pid, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(b")") + 2 :].split()
    return int(rest[19]), rest[0].decode()


def ticks_now():
    clk = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * clk)


class Forest:
    """Every process the benchmark starts, owned by (pid, start time)."""

    def __init__(self, servers=None):
        self.fixed_servers = servers  # None: one server per 40 windows
        self.dir = tempfile.mkdtemp(prefix="stray-bench-")
        os.chmod(self.dir, 0o700)
        self.t0 = ticks_now() - 1
        tag = f"{os.getpid():x}"
        self.agent_name = f"sba{tag}"[:15]
        self.filler_name = f"sbf{tag}"[:15]
        os.makedirs(self.path("bin"))
        os.makedirs(self.path("tmux"), mode=0o700)
        self.agent = self.path("bin", self.agent_name)
        self.filler = self.path("bin", self.filler_name)
        shutil.copy("/bin/sleep", self.agent)
        shutil.copy("/bin/sleep", self.filler)
        # Agent families: a shell copy as the family's agent, sleep copies
        # as its MCP-like server and background job.
        self.family_agent_name = f"sbg{tag}"[:15]
        self.family_agent = self.path("bin", self.family_agent_name)
        self.mcp = self.path("bin", f"sbm{tag}"[:15])
        self.job = self.path("bin", f"sbj{tag}"[:15])
        shutil.copy("/bin/sh", self.family_agent)
        shutil.copy("/bin/sleep", self.mcp)
        shutil.copy("/bin/sleep", self.job)
        self.families = 0
        for name, text in [
            ("chain.sh", CHAIN_SH),
            ("spawn.sh", SPAWN_SH),
            ("pty.py", PTY_HOLDER),
            ("family.sh", FAMILY_SH),
        ]:
            with open(self.path(name), "w") as f:
                f.write(text)
        self.pidfile = self.path("pids")
        open(self.pidfile, "w").close()
        self.expected = 0
        self.owned = {}  # pid -> start time
        self.children = []  # Popen objects we must reap
        self.servers = []  # tmux -L names
        self.ptys = 0
        self.orphan_probe = 0  # one orphaned agent, to learn who adopts orphans
        self.env = dict(os.environ, TMUX_TMPDIR=self.path("tmux"))
        self.env.pop("TMUX", None)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def tmux(self, name, *args):
        return subprocess.run(
            ["tmux", "-L", name, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def own(self, pid):
        st = stat_of(pid)
        if st is not None:
            self.owned[pid] = st[0]

    def grow(self, n):
        """Adds about n processes: 40% in tmux pane trees, 15% headless
        agents, 15% orphaned agents, 15% agent families (half of them live
        sessions of 4, half dead sessions' leftovers of 3), one PTY holder,
        the rest filler."""
        if n <= 0:
            return
        windows = max(1, int(n * 0.40) // (DEPTH + 1))
        if self.fixed_servers is not None:
            # Every one of the N servers holds at least one agent.
            windows = max(windows, self.fixed_servers - len(self.servers))
            servers = max(0, self.fixed_servers - len(self.servers))
        else:
            servers = max(1, (windows + 39) // 40)
        groups = int(n * 0.15) // 10  # 1 parent shell + 9 agents each
        orphans = int(n * 0.15)
        masters = max(16, min(200, n // 10))
        families = int(n * 0.15) // 7  # one live (4) and one dead (3) each
        used = windows * (DEPTH + 1) + servers + groups * 10 + orphans + 1 + families * 7
        filler = max(0, n - used)

        # The PTY holder first: the tmux panes need PTYs too.
        holder = subprocess.Popen(
            [sys.executable, "-I", self.path("pty.py"), str(masters)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.children.append(holder)
        holder.stdout.readline()
        self.own(holder.pid)
        self.ptys += masters

        chain = f"sh {self.path('chain.sh')} {DEPTH - 1} {self.agent} {self.pidfile}"
        for _ in range(servers):
            name = f"sbt{os.getpid():x}x{len(self.servers)}"
            self.servers.append(name)
            self.tmux(name, "-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "80", "-y", "24", chain)
            self.own(int(self.tmux(name, "display-message", "-p", "#{pid}")))
        # The other windows spread over the servers (with --servers, over all
        # of them, old and new), in batches of 20 per client call.
        targets = self.servers if self.fixed_servers is not None else self.servers[-servers:]
        left_windows = windows - servers
        per_server = [left_windows // len(targets) + (i < left_windows % len(targets)) for i in range(len(targets))]
        for name, left in zip(targets, per_server):
            while left > 0:
                k = min(20, left)
                args = []
                for _ in range(k):
                    args += ["new-window", "-d", chain, ";"]
                self.tmux(name, *args[:-1])
                left -= k
        self.expected += windows * (DEPTH + 1)

        spawn = ["sh", self.path("spawn.sh")]
        for _ in range(groups):
            p = subprocess.Popen(
                spawn + [self.agent, "9", self.pidfile],
                env=dict(self.env, WAIT="1"),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.children.append(p)
        self.expected += groups * 10
        family = [self.path("family.sh"), self.mcp, self.job, self.pidfile]
        for _ in range(families):
            self.families += 1
            session = f"bench-{os.getpid()}-{self.families}"
            p = subprocess.Popen(
                [self.family_agent, *family, session + "-live", "live"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.children.append(p)
            subprocess.run(
                ["sh", *family, session + "-dead", "dead"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                check=True,
            )
        self.expected += families * 7
        for binary, count in [(self.agent, orphans), (self.filler, filler)]:
            while count > 0:
                k = min(500, count)
                subprocess.run(spawn + [binary, str(k), self.pidfile], env=self.env, start_new_session=True, check=True)
                count -= k
                self.expected += k
                if binary == self.agent:
                    self.orphan_probe = self.recorded()[-1]
        self.settle()

    def recorded(self):
        with open(self.pidfile) as f:
            return [int(x) for x in f.read().split()]

    def settle(self, timeout=180):
        """Waits until every process the scripts report exists, then owns it."""
        deadline = time.time() + timeout
        while True:
            pids = self.recorded()
            if len(pids) >= self.expected:
                break
            if time.time() > deadline:
                raise RuntimeError(f"forest did not settle: {len(pids)} of {self.expected} processes")
            time.sleep(0.2)
        for pid in pids:
            if pid not in self.owned:
                st = stat_of(pid)
                if st is not None and st[0] >= self.t0:
                    self.owned[pid] = st[0]

    def cleanup(self):
        for name in self.servers:
            subprocess.run(
                ["tmux", "-L", name, "kill-server"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
        # Pids written to the pidfile but not yet owned (interrupted growth):
        # ours if they started after the forest did.
        try:
            self.settle(timeout=0)
        except (RuntimeError, OSError):
            for pid in self.recorded() if os.path.exists(self.pidfile) else []:
                st = stat_of(pid)
                if pid not in self.owned and st is not None and st[0] >= self.t0:
                    self.owned[pid] = st[0]
        for pid, start in self.owned.items():
            st = stat_of(pid)
            if st is not None and st[0] == start and st[1] != "Z":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.children:
            p.wait()
        # Wait until they are gone, zombies reaped by their adopter included.
        deadline = time.time() + 30
        while True:
            left = sum(1 for pid, start in self.owned.items() if (stat_of(pid) or (None,))[0] == start)
            if left == 0 or time.time() > deadline:
                break
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)
        return left


def run_once(argv, env):
    """Wall ms and exit status of one run, output discarded."""
    ms, code, _ = run_timed(argv, env)
    return ms, code


def run_timed(argv, env):
    """Wall ms, exit status and CPU ms (user + system, from wait4's rusage:
    the run's every thread and the children it waited for) of one run,
    output discarded."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ]
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    ms = (time.perf_counter() - t) * 1000
    return ms, os.waitstatus_to_exitcode(status), (ru.ru_utime + ru.ru_stime) * 1000


def peak_rss(argv, env):
    """Peak RSS in KiB, through GNU time: Linux carries the RSS high-water
    mark of the pre-exec image into ru_maxrss, so a child spawned straight
    from this (large) Python process would report Python's size. GNU time is
    small, and reports its own child's rusage only."""
    gnu_time = "/usr/bin/time"
    if not os.access(gnu_time, os.X_OK):
        return None
    r = subprocess.run(
        [gnu_time, "-f", "%M", "-o", "/dev/stdout", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        return int(r.stdout.split()[-1])
    except (ValueError, IndexError):
        return None


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // (1024 * 1024)
    return f"{os.cpu_count()} CPUs, {cpu}, {mem} GiB RAM, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the stray binary")
    ap.add_argument("--sizes", default="200,1000,3000")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rss-runs", type=int, default=3, help="runs under GNU time for peak RSS")
    ap.add_argument("--servers", type=int, help="spread the panes over exactly N tmux servers at every size")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--before", metavar="BIN", help="also time this older stray build")
    ap.add_argument("--before-note", metavar="TEXT", help="what the --before build is, for BENCHMARKS.md")
    ap.add_argument("--hold", action="store_true", help="build the first size, then wait for Ctrl-C (for profiling)")
    ap.add_argument("--watch", action="store_true", help="measure `watch` instead: quiet ticks vs full cycles, CPU per hour")
    ap.add_argument("--watch-secs", type=float, default=20.0, help="seconds each watch run is measured")
    opts = ap.parse_args()
    if opts.watch and opts.sizes == "200,1000,3000":
        opts.sizes = "3000"
    sizes = [int(s) for s in opts.sizes.split(",")]
    stray = os.path.abspath(opts.bin)

    def bail(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, bail)

    baseline = proc_count()
    print(f"baseline: {baseline} processes; {machine()}", flush=True)
    if opts.servers is not None and opts.servers < 1:
        ap.error("--servers must be at least 1")
    forest = Forest(opts.servers)
    rows = []
    try:
        if opts.watch:
            text = measure_watch(forest, stray, sizes, opts)
            print(text)
            if not opts.no_write:
                write_watch_md(text)
            return
        rows = measure(forest, stray, sizes, opts)
    finally:
        print("cleaning up…", flush=True)
        left = forest.cleanup()
        print(
            f"cleaned up {len(forest.owned)} processes and {len(forest.servers)} tmux servers; "
            f"{left} left; process count now {proc_count()} (baseline {baseline})",
            flush=True,
        )
    table = render(rows)
    print(table)
    if not opts.no_write and rows:
        write_md(table, rows, baseline, opts)


def measure(forest, stray, sizes, opts):
    cfg = forest.path("config.toml")
    state = forest.path("state")
    env = dict(os.environ, XDG_STATE_HOME=forest.path("xdg-state"), XDG_CONFIG_HOME=forest.path("xdg-config"))
    env.pop("TMUX", None)
    env.pop("STRAY_CONFIG", None)
    env.pop("STRAY_STATE_DIR", None)
    ps = shutil.which("ps")
    base = ["-c", cfg, "--state-dir", state]
    # A state dir that is a plain file: nothing can be kept there, so every
    # scan asks each tmux server (the cost of a cold pane cache).
    no_state = forest.path("state-is-a-file")
    with open(no_state, "w") as f:
        f.write("not a directory\n")
    cold = ["-c", cfg, "--state-dir", no_state]
    commands = {
        "stray scan --format json": ([stray, *base, "scan", "--format", "json"], "ps"),
        "stray scan --format json, no pane cache": ([stray, *cold, "scan", "--format", "json"], "ps"),
        "stray reap --dry-run": ([stray, *base, "reap", "--dry-run"], "ps"),
        "stray pty": ([stray, *base, "pty"], "ls -l /proc/*/fd"),
        "stray --version (startup)": ([stray, "--version"], None),
        "ps": ([ps, "-eo", *PS_ARGS], None),
        "ls -l /proc/*/fd": (["/bin/sh", "-c", "exec ls -l /proc/*/fd"], None),
    }
    if opts.before:
        # An older build, to show what a change bought (not in the targets).
        old = os.path.abspath(opts.before)
        commands["before: stray scan --format json"] = ([old, *base, "scan", "--format", "json"], "ps")
        commands["before: stray reap --dry-run"] = ([old, *base, "reap", "--dry-run"], "ps")
    lsof = shutil.which("lsof")
    if lsof:
        commands["lsof -t /dev/ptmx"] = ([lsof, "-t", "/dev/ptmx"], None)

    rows = []
    for size in sizes:
        forest.grow(size - proc_count())
        write_config(forest, cfg)
        if opts.hold:
            print(f"holding {proc_count()} processes; config {cfg}; Ctrl-C to clean up", flush=True)
            signal.pause()
        available = {}
        for name, (argv, _) in commands.items():
            ms, code = run_once(argv, env)
            err = subprocess.run(argv, env=env, capture_output=True).stderr.decode(errors="replace")
            if "not implemented" in err:
                available[name] = "n/a (not implemented in this build)"
            elif "stray" in name and code not in (0, 1, 2):
                raise RuntimeError(f"{name} failed (exit {code}): {err.strip()}")
            else:
                available[name] = None
        names = [n for n in commands if available[n] is None]
        samples = {n: [] for n in names}
        cpu = {n: [] for n in names}
        rss = {n: 0 for n in names}
        count_before = proc_count()
        for r in range(opts.warmup + opts.runs):
            # Rotate the order each round so drift hits every command alike.
            k = r % len(names)
            for n in names[k:] + names[:k]:
                ms, _, cpu_ms = run_timed(commands[n][0], env)
                if r >= opts.warmup:
                    samples[n].append(ms)
                    cpu[n].append(cpu_ms)
        for r in range(opts.rss_runs):
            for n in names:
                kib = peak_rss(commands[n][0], env)
                rss[n] = None if kib is None or rss[n] is None else max(rss[n], kib)
        count = (count_before + proc_count()) // 2
        print(f"size {size}: {count} processes ({forest.ptys} PTY masters held, {len(forest.servers)} tmux servers)", flush=True)
        med = {n: statistics.median(v) for n, v in samples.items()}
        cpu_med = {n: statistics.median(v) for n, v in cpu.items()}
        for n, (_, baseline) in commands.items():
            if available[n] is not None:
                rows.append((size, count, n, None, None, None, available[n], None, None))
                continue
            ratio = med[n] / med[baseline] if baseline and baseline in med else None
            cpu_ratio = cpu_med[n] / cpu_med[baseline] if baseline and cpu_med.get(baseline) else None
            rows.append((size, count, n, med[n], ratio, rss[n], None, cpu_med[n], cpu_ratio))
    return rows


def write_config(forest, cfg):
    """The benchmark config: orphans' adopter as a reaper parent, agents
    matched by name, and the default exe glob kept on."""
    # Orphans are re-parented to PID 1 or a subreaper: make that parent
    # a reaper parent, as a real install would.
    orphan_parent = "init"
    try:
        with open(f"/proc/{forest.orphan_probe}/stat") as f:
            s = f.read()
        ppid = int(s[s.rfind(")") + 2 :].split()[1])
        with open(f"/proc/{ppid}/comm") as f:
            orphan_parent = f.read().strip()
    except (OSError, ValueError, IndexError):
        pass
    # The agents match by name; the default exe glob stays on, so every
    # in-scope process costs what it costs under the default config.
    with open(cfg, "w") as f:
        f.write(
            f'min_age = "0s"\nreaper_parents = ["systemd", "init", {orphan_parent!r}]\n'
            f'[match]\nnames = ["{forest.agent_name}", "{forest.family_agent_name}"]\n'
            f'exe = ["*/claude/versions/*"]\n'
            f'[family]\nenv = ["SBFAM_SESS", "SBFAM_PID=<pid>", "SBFAM=1"]\n'.replace("'", '"')
        )


def render(rows):
    head = ["size", "processes", "command", "median ms", "µs/process", "ratio to baseline", "CPU ms", "CPU ratio", "peak RSS"]
    lines = []
    for size, count, name, ms, ratio, kib, note, cpu_ms, cpu_ratio in rows:
        if note:
            lines.append([str(size), str(count), name, note, "", "", "", "", ""])
            continue
        lines.append(
            [
                str(size),
                str(count),
                name,
                f"{ms:.1f}",
                f"{ms * 1000 / count:.1f}",
                f"{ratio:.2f}×" if ratio is not None else "",
                f"{cpu_ms:.1f}",
                f"{cpu_ratio:.2f}×" if cpu_ratio is not None else "",
                f"{kib / 1024:.1f} MiB" if kib is not None else "n/a",
            ]
        )
    widths = [max(len(r[i]) for r in [head] + lines) for i in range(len(head))]

    def fmt(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    out = [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(r) for r in lines]
    return "\n".join(out)


def verdicts(rows):
    """The issue's targets, checked against this run's rows."""
    out = []
    by = {(r[0], r[2]): r for r in rows}
    sizes = sorted({r[0] for r in rows})

    def mark(ok):
        return "met" if ok else "NOT met"

    for cmd, limit in [("stray scan --format json", 0.5), ("stray reap --dry-run", 0.5), ("stray pty", 1.0)]:
        ratios = [(size, by[(size, cmd)][4]) for size in sizes if (size, cmd) in by]
        if not ratios or any(r is None for _, r in ratios):
            out.append(f"- `{cmd}` ≤ {limit}× its baseline: n/a in this build")
            continue
        shown = ", ".join(f"{r:.2f}× at {size}" for size, r in ratios)
        out.append(f"- `{cmd}` ≤ {limit}× its baseline at every size: {mark(all(r <= limit for _, r in ratios))} ({shown})")
        cpu_shown = ", ".join(
            f"{by[(size, cmd)][8]:.2f}× at {size}" for size in sizes if by[(size, cmd)][8] is not None
        )
        if cpu_shown:
            out.append(f"  - its CPU time (user + system) against the baseline's: {cpu_shown}")
        if cmd != "stray pty":
            per = [by[(size, cmd)][3] * 1000 / by[(size, cmd)][1] for size in sizes]
            spread = max(per) / min(per)
            out.append(
                f"- `{cmd}` time per process flat (±30%): {mark(spread <= 1.3)} "
                f"({' / '.join(f'{x:.1f}' for x in per)} µs, max/min {spread:.2f})"
            )
    top = sizes[-1]
    rss = [(r[2], r[5]) for r in rows if r[0] == top and r[2].startswith("stray") and r[5] is not None]
    if rss:
        worst = max(k for _, k in rss)
        out.append(f"- peak RSS ≤ 8 MiB at {top} processes: {mark(worst <= 8 * 1024)} (largest {worst / 1024:.1f} MiB)")
    return "\n".join(out)


def servers_section(table, rows, baseline, opts, stamp):
    """The `--servers N` run: its own section of BENCHMARKS.md, between
    markers, so that the default run and each N keep their own rows."""
    n = opts.servers
    return f"""<!-- servers:{n} -->
## {n} tmux servers

Run: {stamp}, `bench/run.sh --servers {n} --sizes {opts.sizes} --runs {opts.runs}{" --before OLD" if opts.before else ""}`;
{baseline} processes before the forest was built. The same forest as above,
except that its panes are spread over exactly {n} private tmux servers at
every size (one agent in each at least), so the cost of pane names per
server shows.

{table}
{before_note(opts)}
{verdicts(rows)}
<!-- /servers:{n} -->
"""


def before_note(opts):
    """A line naming the `before:` rows' build, when there are any."""
    if not opts.before:
        return ""
    what = opts.before_note or "an older build"
    return f"\n`before:` rows time {what} (`--before`), on the same forest, interleaved.\n"


def write_md(table, rows, baseline, opts):
    path = os.path.join(ROOT, "BENCHMARKS.md")
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    sections = {}
    for m in re.finditer(r"<!-- servers:(\d+) -->\n.*?<!-- /servers:\1 -->\n", old, re.S):
        sections[int(m.group(1))] = m.group(0)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if opts.servers is not None:
        sections[opts.servers] = servers_section(table, rows, baseline, opts, stamp)
        main = re.sub(r"<!-- servers:(\d+) -->\n.*?<!-- /servers:\1 -->\n\n?", "", old, flags=re.S)
        if not main.strip():
            main = "# Benchmarks\n\nNo default run yet: `bench/run.sh`.\n"
    else:
        # The `--watch` section is written by its own runs: keep it.
        main = default_md(table, rows, baseline, opts, stamp) + kept_notes_section() + kept_watch_section()
    text = main.rstrip("\n") + "\n"
    for n in sorted(sections):
        text += "\n" + sections[n]
    with open(path, "w") as f:
        f.write(text)
    print("BENCHMARKS.md updated")


def default_md(table, rows, baseline, opts, stamp):
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = f.read().strip()
    return f"""# Benchmarks

Latest run: {stamp}, `bench/run.sh --sizes {opts.sizes} --runs {opts.runs}{" --before OLD" if opts.before else ""}`.

Machine: {machine()}; {baseline} processes before the forest was built
(pid_max {pid_max}). The machine is shared, so absolute times are noisy; the
commands run interleaved, so ratios are fair.

{table}
{before_note(opts)}
- **median ms**: median wall time of {opts.runs} interleaved runs (after {opts.warmup}
  warm-up rounds), output to /dev/null. **peak RSS**: the largest maximum
  resident set size (GNU `time -f %M`) over {opts.rss_runs} more runs. **ratio**: to `ps -eo {PS_ARGS[0]}` for `scan` and
  `reap --dry-run`, to `ls -l /proc/*/fd` for `pty`. **CPU ms**: median
  user + system time of the same runs (`wait4`: the command, every thread
  of it, and the children it waited for, such as `scan`'s tmux clients),
  what the machine pays; **CPU ratio** is to the same baseline.
- `stray --version` is the fixed cost of starting the binary.
- The forest: private tmux servers whose panes run {DEPTH} nested shells and a
  fake agent, orphaned agents, headless agents under a live shell, agent
  families (about 15%: live sessions, each a fake agent with a wrapped
  MCP-like server and a `setsid` job carrying session markers, and as many
  dead sessions' leftovers of the same shape, whose markers name a gone
  agent), a process holding many PTY masters, and non-agent filler (copies
  of /bin/sleep under unique names). The config matches the fake agents by name and keeps the
  default `exe` glob, so every in-scope process is checked as under the
  default config.
- Pane names: `scan` keeps each tmux server's answer for 10 s in the pane
  cache (`panes.json` in the state dir) and asks a server again only after
  that, or for an agent in a pane started since; the medians are of warm
  runs (one run in every 10 s refreshes). `scan --format json, no pane
  cache` runs with a state dir that is a plain file, so that nothing can
  be kept and every run asks every server: the cost of a cold cache.

Targets (issue 4), as measured in this run:

{verdicts(rows)}
- no child process per candidate or pane: `scan` starts at most one tmux
  query per live tmux server, and none with a warm pane cache;
  `reap --dry-run` none (`tests/forks.rs`, under strace;
  `tests/pane_cache.rs` counts every tmux client).

A cold `scan` pays about 2 ms of wall time per tmux server it asks (a tmux
client starts and the server answers; the questions overlap with the survey
and with each other, but not entirely): that fixed cost, not the per-process
cost, is what the `no pane cache` row adds to a warm `scan`.
`reap --dry-run`, which asks tmux nothing, shows the per-process cost alone.

Reproduce: `bench/run.sh` (needs tmux, python3, ps; lsof optional). It cleans up
everything it started, also on Ctrl-C. `bench/run.sh --servers 10` measures
the same forest with its panes spread over 10 tmux servers (its own section
below).
"""


WATCH_BEGIN = "<!-- bench --watch: begin -->"
WATCH_END = "<!-- bench --watch: end -->"
NOTES_BEGIN = "<!-- notes: begin -->"
NOTES_END = "<!-- notes: end -->"


def kept_section(begin, end):
    """A hand-written or separately measured section of BENCHMARKS.md
    (between `begin` and `end`), kept when the main table is rewritten."""
    try:
        with open(os.path.join(ROOT, "BENCHMARKS.md")) as f:
            old = f.read()
    except OSError:
        return ""
    if begin in old and end in old:
        return "\n" + old[old.index(begin) : old.index(end) + len(end)] + "\n"
    return ""


def kept_watch_section():
    """The `--watch` section, written by its own runs."""
    return kept_section(WATCH_BEGIN, WATCH_END)


def kept_notes_section():
    """The notes on what a run measured (why a target is or is not met),
    written by hand after a run."""
    return kept_section(NOTES_BEGIN, NOTES_END)


def write_watch_md(section):
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path) as f:
        old = f.read()
    block = f"{WATCH_BEGIN}\n{section}\n{WATCH_END}"
    if WATCH_BEGIN in old and WATCH_END in old:
        new = old[: old.index(WATCH_BEGIN)] + block + old[old.index(WATCH_END) + len(WATCH_END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(new)
    print("BENCHMARKS.md updated (watch section)")


def cpu_secs(pid):
    """utime + stime of a live process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_cpu(argv, env, runs):
    """Mean CPU seconds (user + system, from wait4's rusage) of one run."""
    total = 0.0
    for _ in range(runs):
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
            ],
        )
        _, _, ru = os.wait4(pid, 0)
        total += ru.ru_utime + ru.ru_stime
    return total / runs


def watch_ticks(stray, base, env, secs):
    """Runs `watch --interval 100ms --format json` and returns (CPU seconds
    per tick, ticks, full cycles among them) over `secs` seconds, after its
    first cycle and a second of warm-up. Its own cycle lines count ticks."""
    import json
    import threading

    p = subprocess.Popen(
        [stray, *base, "-v", "--format", "json", "watch", "--interval", "100ms"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines, why = [], []
    reader = threading.Thread(target=lambda: lines.extend(json.loads(l) for l in p.stdout), daemon=True)
    reader.start()
    # `-v` says why each full cycle ran: kept to show what broke quiet ticks.
    errs = threading.Thread(
        target=lambda: why.extend(
            l.decode(errors="replace").split("full cycle: ", 1)[1].strip()
            for l in p.stderr
            if b"full cycle: " in l
        ),
        daemon=True,
    )
    errs.start()
    try:
        deadline = time.time() + 120
        while not lines and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        n0, c0 = len(lines), cpu_secs(p.pid)
        time.sleep(secs)
        n1, c1 = len(lines), cpu_secs(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    ticks = lines[n0:n1]
    fulls = sum(1 for t in ticks if not t.get("quiet"))
    import collections
    import re

    reasons = collections.Counter(re.sub(r"\d+", "N", w) for w in why)
    shown = "; ".join(f"{n}× {w}" for w, n in reasons.most_common(4))
    return (c1 - c0) / max(len(ticks), 1), len(ticks), fulls, shown


def measure_watch(forest, stray, sizes, opts):
    """Quiet ticks against full cycles, and CPU per hour at a 1 s interval
    beside a loop of `stray reap` and of `ps`. The forest's orphans are
    reported, not reaped (`[policy] orphan = "report"`), so the forest stays
    as it is and every tick could be quiet: the steady state of a machine
    where nothing needs doing."""
    cfg = forest.path("config.toml")
    state = forest.path("state")
    env = dict(os.environ, XDG_STATE_HOME=forest.path("xdg-state"), XDG_CONFIG_HOME=forest.path("xdg-config"))
    for k in ("TMUX", "STRAY_CONFIG", "STRAY_STATE_DIR"):
        env.pop(k, None)
    base = ["-c", cfg, "--state-dir", state]
    ps = [shutil.which("ps"), "-eo", *PS_ARGS]
    out = []
    for size in sizes:
        forest.grow(size - proc_count())
        forest_grown = time.time()
        write_config(forest, cfg)
        with open(cfg) as f:
            common = f.read().replace('min_age = "0s"', 'min_age = "60s"') + '[policy]\norphan = "report"\n'
        # min_age as by default: processes younger than it are followed by
        # each quiet tick, so measure once the forest is older.
        time.sleep(max(0.0, 61.0 - (time.time() - forest_grown)))
        runs = {}
        for every in ("0s", "1h"):
            with open(cfg, "w") as f:
                f.write(common + f'[watch]\nfull_every = "{every}"\n')
            runs[every] = watch_ticks(stray, base, env, opts.watch_secs)
        with open(cfg, "w") as f:
            f.write(common)
        reap = child_cpu([stray, *base, "reap"], env, 10)
        dry = child_cpu([stray, *base, "reap", "--dry-run"], env, 10)
        ps_cpu = child_cpu(ps, env, 10)
        count = proc_count()
        full, quiet = runs["0s"][0], runs["1h"][0]
        # watch --interval 1s with full_every = 1m: 60 full cycles an hour,
        # the other 3540 ticks quiet.
        watch_hour = 60 * full + 3540 * quiet
        out.append(
            f"""### `watch`: quiet ticks against full cycles, {count} processes

Latest run: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, `bench/run.sh --watch --sizes {size}`
({opts.watch_secs:.0f} s per watch run at `--interval 100ms`; CPU is the watch
process's utime + stime from `/proc/PID/stat`, or wait4's rusage for one-shot
commands, each the mean of 10 runs). The forest's orphans are reported, not
reaped (`[policy] orphan = "report"`), so it stays as it is: the steady state
of a machine where nothing needs doing. Other work on this shared machine
(other processes starting tmux servers, say) still starts full cycles; they are
counted in the quiet run and included in its mean.

| what | CPU ms | per |
|---|---|---|
| `watch`, every tick a full cycle (`full_every = "0s"`: reap cycle + PTY sample with the holder scan) | {full * 1000:.2f} | tick ({runs["0s"][1]} ticks) |
| `watch`, quiet ticks (`full_every = "1h"`) | {quiet * 1000:.2f} | tick ({runs["1h"][1]} ticks, {runs["1h"][2]} of them full cycles{": " + runs["1h"][3] if runs["1h"][3] else ""}) |
| `stray reap` (real, nothing to signal) | {reap * 1000:.2f} | run |
| `stray reap --dry-run` | {dry * 1000:.2f} | run |
| `ps -eo {PS_ARGS[0]}` | {ps_cpu * 1000:.2f} | run |

- quiet tick / full cycle: **{quiet / full:.3f}×** (goal ≤ 0.1×: {"met" if quiet <= 0.1 * full else "NOT met"});
  quiet tick / `stray reap --dry-run`: {quiet / dry:.3f}×.
- CPU per hour at a 1 s interval: `watch --interval 1s` (default `full_every = "1m"`:
  60 full cycles and 3540 quiet ticks) **{watch_hour:.1f} s** ({watch_hour / 36:.2f}% of a core);
  the same `watch` with every tick a full cycle {3600 * full:.1f} s ({full * 100:.2f}%);
  `stray reap` run every second {3600 * reap:.1f} s; `ps` run every second {3600 * ps_cpu:.1f} s.
"""
        )
    return "\n".join(out)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); cleaned up", file=sys.stderr)
        sys.exit(130)
