//! Agent families through the real `stray` binary (SPEC "Agent families"):
//! what a dead agent session leaves behind is a `leftover`, planned and
//! reaped in one cycle; nothing of a live session is ever planned.
//!
//! Every process here is a copy of `/bin/sh` or `/bin/sleep` under a unique
//! name (the fake agent is a shell copy registered with `--name`), and every
//! lineage marker is a variable whose name is unique to the test (`[family]
//! env` replaces the built-in Claude/Codex markers), so no real session on
//! the machine can match. Cleanup is by pid and start time.

mod common;

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A copy of `/bin/sh` under a unique name (not registered as an agent).
fn shell_bin(env: &TestEnv, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/sh", &bin);
    (name, bin)
}

/// A copy of `/bin/sleep` under a unique name (not an agent).
fn sleep_bin(env: &TestEnv, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/sleep", &bin);
    (name, bin)
}

/// A fake agent: a copy of `/bin/sh` registered with `--name`.
fn agent_shell(env: &mut TestEnv, tag: &str) -> (String, PathBuf) {
    let (name, bin) = shell_bin(env, tag);
    env.names.push(name.clone());
    (name, bin)
}

/// Test-only lineage markers: `<P>_SESS` names a session (a uuid),
/// `<P>_PID` the agent's pid, `<P>_AGENT=1` is the same in every session.
struct Markers {
    prefix: String,
}

impl Markers {
    fn new() -> Markers {
        Markers {
            prefix: format!("STRAYT{}", unique_name("m").to_uppercase()),
        }
    }
    fn sess(&self) -> String {
        format!("{}_SESS", self.prefix)
    }
    fn pid(&self) -> String {
        format!("{}_PID", self.prefix)
    }
    fn constant(&self) -> String {
        format!("{}_AGENT", self.prefix)
    }
    /// The `[family]` table naming only these markers.
    fn config(&self) -> String {
        format!(
            "[family]\nenv = [\"{}\", \"{}=<pid>\", \"{}=1\"]\n",
            self.sess(),
            self.pid(),
            self.constant()
        )
    }
    /// `export …` lines a fake agent runs so its children carry them, like
    /// Claude Code's MCP servers and shell-tool processes.
    fn exports(&self, session: &str) -> String {
        format!(
            "export {}={session} {}=$$ {}=1\n",
            self.sess(),
            self.pid(),
            self.constant()
        )
    }
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    let f = std::fs::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let s = String::from_utf8_lossy(&f).trim().to_string();
    if s.len() == 36 {
        return s;
    }
    b[0] = std::process::id() as u8;
    format!("{:032x}", u128::from_le_bytes(b))
}

/// The comm of whatever adopts orphans here (PID 1 or a subreaper), from a
/// probe orphan: tests list it in `reaper_parents`.
fn adopter(env: &TestEnv) -> String {
    // The same for every test of this binary: probed once.
    static ADOPTER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ADOPTER
        .get_or_init(|| {
            let (_, probe) = sleep_bin(env, "pr");
            let p = spawn_orphan(env, &probe, &["30"]);
            adopter_comm(&p)
        })
        .clone()
}

fn write_config(env: &TestEnv, markers: &Markers, extra: &str) {
    env.write_config(&format!(
        "min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = [{:?}]\n{extra}\n{}",
        adopter(env),
        markers.config()
    ));
}

/// A shell line that blocks until the test ends: a read from a fresh fifo
/// nobody writes (a builtin: the agent keeps no child for it).
fn block_line(env: &TestEnv) -> String {
    let fifo = env.path(&format!("block-{}", unique_name("f")));
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    format!("read _ < {}\n", fifo.display())
}

/// A shell line that starts `bin 3600` as a `setsid` background job, as
/// an agent's shell tool does.
fn setsid_job(bin: &Path) -> String {
    format!("setsid {} 3600 </dev/null >/dev/null 2>&1 &", bin.display())
}

/// Starts `bin -c script` in a session of its own (no controlling
/// terminal), as a child of this test: a headless agent.
fn spawn_headless(env: &TestEnv, bin: &Path, script: &str, dir: &Path) -> Proc {
    let mut c = Command::new(bin);
    c.arg("-c").arg(script).current_dir(dir);
    spawn_detached(env, &mut c)
}

/// Starts `c`, isolated, silent, in a session of its own, as a child of
/// this test.
fn spawn_detached(env: &TestEnv, c: &mut Command) -> Proc {
    env.isolate(c);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    in_own_session(c);
    Proc::from_child(c.spawn().unwrap())
}

/// Every descendant of `root`, as (pid, comm).
fn descendants(root: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children_of(p) {
            out.push((c, comm_of(c).unwrap_or_default()));
            stack.push(c);
        }
    }
    out
}

fn planned(env: &TestEnv) -> (BTreeSet<i32>, Value) {
    let (doc, out) = env.json(&["reap", "--dry-run"]);
    assert!(
        out.status.success(),
        "reap --dry-run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (action_pids(&doc), doc)
}

fn explain(env: &TestEnv, pid: i32) -> String {
    let out = env.run_ok(&["explain", &pid.to_string()]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn scan_all(env: &TestEnv) -> Value {
    let (doc, out) = env.json(&["scan", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    doc
}

/// The names of one fake agent's session and the processes it left.
struct Session {
    agent: Proc,
    dir: PathBuf,
    /// Every descendant while the agent lived (the expected survivors).
    members: Vec<Proc>,
    mcp: String,
    job: String,
    browser: String,
    browser_child: String,
}

/// A fake agent like a Claude Code session: it exports the session's
/// markers to its children, starts a wrapped MCP-like server that ignores
/// EOF and SIGTERM (`sh -c` around it, in the agent's session), a `setsid`
/// background job, and a headless-browser-like tree of five (a root and
/// four children); then waits for `exit` on a fifo.
fn start_session(env: &mut TestEnv, markers: &Markers) -> Session {
    let dir = env.path(&format!("s-{}", unique_name("d")));
    std::fs::create_dir_all(&dir).unwrap();
    let (_, agent) = agent_shell(env, "ag");
    let (mcp, mcp_bin) = sleep_bin(env, "mc");
    let (job, job_bin) = sleep_bin(env, "jb");
    let (browser, browser_bin) = shell_bin(env, "br");
    let (browser_child, child_bin) = sleep_bin(env, "bc");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let script = format!(
        "{exports}\
         sh -c 'trap \"\" TERM; \"$0\" 3600; :' {mcp} </dev/null >/dev/null 2>&1 &\n\
         setsid {job} 3600 </dev/null >/dev/null 2>&1 &\n\
         {browser} -c 'for i in 1 2 3 4; do \"$0\" 3600 & done; wait' {child} </dev/null >/dev/null 2>&1 &\n\
         read _ < {fifo}\n\
         exit 0\n",
        exports = markers.exports(&uuid()),
        mcp = mcp_bin.display(),
        job = job_bin.display(),
        browser = browser_bin.display(),
        child = child_bin.display(),
        fifo = fifo.display(),
    );
    let agent = spawn_headless(env, &agent, &script, &dir);
    let want = |d: &[(i32, String)]| {
        let n = |c: &str| d.iter().filter(|(_, x)| x == c).count();
        // Eight in all: a `setsid` that forked has exited by then.
        n(&mcp) == 1 && n(&job) == 1 && n(&browser) == 1 && n(&browser_child) == 4 && d.len() == 8
    };
    assert!(
        wait_until(Duration::from_secs(10), || want(&descendants(agent.pid))),
        "the fake agent's family never formed: {:?}",
        descendants(agent.pid)
    );
    // The MCP server must really ignore SIGTERM, or a reap proves nothing.
    let mcp_pid = descendants(agent.pid)
        .into_iter()
        .find(|(_, c)| c == &mcp)
        .unwrap()
        .0;
    let members: Vec<Proc> = descendants(agent.pid)
        .into_iter()
        .map(|(p, _)| Proc::from_pid(p))
        .collect();
    wait_term_ignored(members.iter().find(|m| m.pid == mcp_pid).unwrap());
    Session {
        agent,
        dir,
        members,
        mcp,
        job,
        browser,
        browser_child,
    }
}

impl Session {
    fn member_pids(&self) -> BTreeSet<i32> {
        self.members.iter().map(|p| p.pid).collect()
    }

    fn end_normally(&mut self) {
        std::fs::write(self.dir.join("fifo"), "exit\n").unwrap();
        assert_eq!(
            self.agent.wait_status(),
            Some(0),
            "the agent did not end normally"
        );
    }

    fn kill9(&mut self) {
        self.agent.signal(libc::SIGKILL);
        self.agent.wait_status();
    }

    fn wait_orphaned(&self) {
        let me = std::process::id() as i32;
        for m in &self.members {
            assert!(
                wait_until(Duration::from_secs(5), || m
                    .ppid()
                    .is_some_and(|pp| pp != self.agent.pid && pp != me)),
                "member {} was not re-parented",
                m.pid
            );
        }
    }
}

fn assert_nothing_planned_while_alive(env: &TestEnv, s: &Session) {
    let (pids, doc) = planned(env);
    assert!(
        pids.is_empty(),
        "a live session's family was planned: {doc}"
    );
    // And a real cycle signals nothing of it (and records its descent).
    let out = env.run_ok(&["reap"]);
    assert!(s.agent.alive());
    for m in &s.members {
        assert!(
            m.alive(),
            "a real cycle touched live member {} (start {}, now {:?}): {}\n{}",
            m.pid,
            m.start_time,
            stat_of(m.pid),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn assert_survivors_planned(env: &TestEnv, s: &Session) {
    let (pids, doc) = planned(env);
    assert_eq!(
        pids,
        s.member_pids(),
        "exactly the survivors are planned: {doc}"
    );
    for a in doc["actions"].as_array().unwrap() {
        assert_eq!(a["class"], "leftover", "{a}");
        assert_eq!(a["signal"], "SIGTERM", "{a}");
    }
    let text = explain(env, s.members[0].pid);
    assert!(
        text.contains("leftover"),
        "explain says why it is taken: {text}"
    );
}

/// Kill -9 of the agent: the wrapped MCP server, the setsid job and the
/// browser tree are planned, nothing else; one `reap --wait` cycle takes
/// the whole dead subtree, SIGKILL included for the one ignoring SIGTERM.
#[test]
fn kill9_survivors_are_leftovers_and_go_in_one_cycle() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let mut s = start_session(&mut env, &markers);
    let comms: Vec<String> = s
        .members
        .iter()
        .map(|m| comm_of(m.pid).unwrap_or_default())
        .collect();
    assert_eq!(
        s.members.len(),
        8,
        "sh + mcp + job + browser + 4 children: {comms:?}"
    );
    assert_nothing_planned_while_alive(&env, &s);
    s.kill9();
    s.wait_orphaned();
    assert_survivors_planned(&env, &s);

    env.run_ok(&["reap", "--wait", "--grace", "1s"]);
    for m in &s.members {
        assert!(
            wait_until(Duration::from_secs(5), || !m.alive()),
            "leftover {} survived the cycle",
            m.pid
        );
    }
    let leftover_lines: Vec<Value> = env
        .audit_events("reap")
        .into_iter()
        .filter(|l| l["class"] == "leftover")
        .collect();
    assert!(
        leftover_lines.len() >= s.members.len(),
        "one audit line per signal, class leftover: {leftover_lines:#?}"
    );
    let _ = (&s.mcp, &s.job, &s.browser, &s.browser_child);
}

/// A normal end leaves the same survivors, and they are planned the same.
#[test]
fn normal_exit_survivors_are_leftovers() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let mut s = start_session(&mut env, &markers);
    assert_nothing_planned_while_alive(&env, &s);
    s.end_normally();
    s.wait_orphaned();
    assert_survivors_planned(&env, &s);
}

/// `min_age` applies to leftovers: young ones wait.
#[test]
fn young_leftovers_wait_for_min_age() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let mut s = start_session(&mut env, &markers);
    s.kill9();
    s.wait_orphaned();
    let (doc, _) = env.json(&["reap", "--dry-run", "--min-age", "1h"]);
    assert_eq!(doc["actions"].as_array().map(Vec::len), Some(0), "{doc}");
    let scan = scan_all(&env);
    for m in &s.members {
        assert_eq!(class_in_scan(&scan, m.pid).as_deref(), Some("leftover"));
    }
    // Strays die first (issue 13): a real cycle that signals nobody still
    // raises every young leftover's oom_score_adj, once per process.
    for _ in 0..2 {
        env.run_ok(&["reap", "--min-age", "1h"]);
    }
    for m in &s.members {
        assert!(m.alive(), "young leftover {} was signalled", m.pid);
        assert_eq!(adj(m.pid), 1000, "leftover {}", m.pid);
    }
    assert_eq!(
        env.audit_events("oom-score-adj").len(),
        s.members.len(),
        "one audited raise per leftover, not per cycle"
    );
}

/// Codex's MCP servers carry no marker: remembered descent is their only
/// link. A server an earlier real cycle saw under its agent (a cycle that
/// signalled nothing: `min_age` kept everything young) is a leftover after
/// the agent dies; the same shape that no cycle saw is left alone.
#[test]
fn remembered_descent_is_the_only_link_for_unmarked_servers() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (_, agent) = agent_shell(&mut env, "cx");
    let (srv, srv_bin) = sleep_bin(&env, "sv");
    let script = format!(
        "env -i PATH=/usr/bin:/bin {} 3600 </dev/null >/dev/null 2>&1 &\n{}",
        srv_bin.display(),
        block_line(&env)
    );
    let dir = env.path("");
    let mut seen = spawn_headless(&env, &agent, &script, &dir);
    let seen_srv = Proc::from_pid(find_descendant(seen.pid, &srv).expect("server"));
    // The recording cycle: real, and it signals nothing.
    env.run_ok(&["reap", "--min-age", "1h"]);
    let mut unseen = spawn_headless(&env, &agent, &script, &dir);
    let unseen_srv = Proc::from_pid(find_descendant(unseen.pid, &srv).expect("server"));
    for a in [&mut seen, &mut unseen] {
        a.signal(libc::SIGKILL);
        a.wait_status();
    }
    for s in [&seen_srv, &unseen_srv] {
        assert!(wait_until(Duration::from_secs(5), || s
            .ppid()
            .is_some_and(|p| p != seen.pid && p != unseen.pid)));
    }
    let (pids, doc) = planned(&env);
    assert!(
        pids.contains(&seen_srv.pid),
        "remembered server not planned: {doc}"
    );
    assert!(
        !pids.contains(&unseen_srv.pid),
        "an unseen, unmarked process was planned: {doc}"
    );
    assert_eq!(pids.len(), 1, "nothing else: {doc}");
    let text = explain(&env, seen_srv.pid);
    assert!(
        text.contains("earlier cycle") || text.contains("remembered"),
        "{text}"
    );
}

/// A live agent's family is never planned, whatever its shape: a job
/// double-forked away (re-parented to the reaper) carrying the session's
/// markers, one carrying only the session uuid, and an unmarked one an
/// earlier cycle saw.
#[test]
fn a_live_agents_family_is_never_planned() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (_, agent) = agent_shell(&mut env, "la");
    let (a, a_bin) = sleep_bin(&env, "la");
    let (b, b_bin) = sleep_bin(&env, "lb");
    let (c, c_bin) = sleep_bin(&env, "lc");
    let session = uuid();
    let script = format!(
        "{exports}\
         sh -c '\"$0\" 3600 </dev/null >/dev/null 2>&1 &' {a}\n\
         env -u {pid} -u {constant} setsid sh -c '\"$0\" 3600 </dev/null >/dev/null 2>&1 &' {b}\n\
         {c} 3600 </dev/null >/dev/null 2>&1 &\n\
         {block}",
        exports = markers.exports(&session),
        pid = markers.pid(),
        constant = markers.constant(),
        a = a_bin.display(),
        b = b_bin.display(),
        c = c_bin.display(),
        block = block_line(&env),
    );
    let dir = env.path("");
    let agent = spawn_headless(&env, &agent, &script, &dir);
    // a and b are re-parented away at once; c stays a child.
    let (pa, pb, pc) = (started(&a), started(&b), started(&c));
    assert_ne!(pa.ppid(), Some(agent.pid));
    let (pids, doc) = planned(&env);
    for p in [&pa, &pb, &pc] {
        assert!(
            !pids.contains(&p.pid),
            "live family member {} planned: {doc}",
            p.pid
        );
    }
    let scan = scan_all(&env);
    let fam = scan_entry(&scan, agent.pid).expect("agent in scan");
    assert!(
        fam["family_processes"].as_u64().unwrap_or(0) >= 2,
        "the agent's footprint counts its family: {fam}"
    );
}

/// True when `pid` holds `path` open (one of its fd links names it).
fn holds_open(pid: i32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == path))
}

/// A job kept because `holder` holds its session open: not planned, and
/// `explain` says a live session shares `shares` (`NAME=VALUE`); once the
/// holder is killed, planned. The holder itself is never planned.
fn kept_until_the_holder_dies(env: &TestEnv, job: &Proc, holder: &mut Proc, shares: &str) {
    let (pids, doc) = planned(env);
    assert!(
        !pids.contains(&job.pid),
        "a held session's job planned: {doc}"
    );
    assert!(!pids.contains(&holder.pid), "the holder planned: {doc}");
    let why = explain(env, job.pid);
    assert!(
        why.contains(&format!("a live session shares {shares}")),
        "{why}"
    );
    holder.signal(libc::SIGKILL);
    holder.wait_status();
    let (pids, doc) = planned(env);
    assert!(
        pids.contains(&job.pid),
        "the holder is gone, the job is a leftover: {doc}"
    );
}

/// Starts, from a short-lived agent, `script` (its markers exported), and
/// returns once `comm` runs; then the agent is killed.
fn orphan_from_dead_agent(env: &mut TestEnv, markers: &Markers, line: &str, comm: &str) -> Proc {
    orphan_from_dead_agent_in(env, markers, &uuid(), line, comm)
}

/// [`orphan_from_dead_agent`], in the given session.
fn orphan_from_dead_agent_in(
    env: &mut TestEnv,
    markers: &Markers,
    session: &str,
    line: &str,
    comm: &str,
) -> Proc {
    orphan_from_dead_agent_with(env, &markers.exports(session), line, comm)
}

/// Starts, from a short-lived agent, `exports` and `line`, and returns once
/// `comm` runs; then the agent is killed.
fn orphan_from_dead_agent_with(env: &mut TestEnv, exports: &str, line: &str, comm: &str) -> Proc {
    let (_, agent) = agent_shell(env, "da");
    let script = format!("{exports}{line}\n{}", block_line(env));
    let dir = env.path("");
    let mut a = spawn_headless(env, &agent, &script, &dir);
    let p = started(comm);
    a.signal(libc::SIGKILL);
    a.wait_status();
    let dead = a.pid;
    assert!(wait_until(Duration::from_secs(5), || p
        .ppid()
        .is_some_and(|pp| pp != dead)));
    p
}

/// The keep marker: `STRAY_KEEP=1 nohup … &` from a dead session is kept,
/// its unmarked sibling is not.
#[test]
fn the_keep_marker_keeps_a_dead_sessions_service() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (k, k_bin) = sleep_bin(&env, "kp");
    let (l, l_bin) = sleep_bin(&env, "kl");
    let kept = orphan_from_dead_agent(
        &mut env,
        &markers,
        // The sibling first: once the kept one runs, the sibling was forked
        // before the agent is killed (it may still be on its way to exec).
        &format!(
            "{}\nSTRAY_KEEP=1 {}",
            setsid_job(&l_bin),
            setsid_job(&k_bin)
        ),
        &k,
    );
    let taken = started(&l);
    let (pids, doc) = planned(&env);
    assert!(!pids.contains(&kept.pid), "STRAY_KEEP=1 planned: {doc}");
    assert!(
        pids.contains(&taken.pid),
        "its sibling is a leftover: {doc}"
    );
    assert!(explain(&env, kept.pid).contains("STRAY_KEEP=1"));
}

/// A tmux server started from inside an agent carries the agent's markers
/// and outlives it: it (and what runs in it) stays protected.
#[test]
fn a_tmux_server_started_by_an_agent_stays_protected() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (pane, pane_bin) = sleep_bin(&env, "tp");
    let socket = unique_name("ts");
    let line = format!(
        "TMUX_TMPDIR={} tmux -L {socket} -f /dev/null new-session -d -s x '{} 3600'",
        env.tmux_tmpdir().display(),
        pane_bin.display()
    );
    let in_pane = orphan_from_dead_agent(&mut env, &markers, &line, &pane);
    let server = Proc::from_pid(in_pane.ppid().expect("pane alive"));
    let (pids, doc) = planned(&env);
    let _cleanup = TmuxKill {
        socket,
        tmpdir: env.tmux_tmpdir(),
    };
    assert!(!pids.contains(&server.pid), "tmux server planned: {doc}");
    assert!(!pids.contains(&in_pane.pid), "pane process planned: {doc}");
}

struct TmuxKill {
    socket: String,
    tmpdir: PathBuf,
}

impl Drop for TmuxKill {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .env("TMUX_TMPDIR", &self.tmpdir)
            .env_remove("TMUX")
            .output();
    }
}

/// A marker-carrying process left by a dead agent but on a live terminal
/// (one `script` holds, outside every multiplexer) is not taken, nor is
/// the `script` holding it.
#[test]
fn a_marked_process_on_a_live_terminal_is_not_taken() {
    if Command::new("script").arg("--version").output().is_err() {
        skip("script(1) is missing");
        return;
    }
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (t, t_bin) = sleep_bin(&env, "tt");
    let line = format!(
        "script -qfc 'sh -c \"{} 3600 &\"; sleep 3600' /dev/null </dev/null >/dev/null 2>&1 &",
        t_bin.display()
    );
    let on_tty = orphan_from_dead_agent(&mut env, &markers, &line, &t);
    let tty = std::fs::read_to_string(format!("/proc/{}/stat", on_tty.pid)).unwrap();
    let tty_nr: i64 = tty[tty.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(tty_nr, 0, "the process must have a controlling terminal");
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&on_tty.pid),
        "a process on a live terminal was planned: {doc}"
    );
    // The script goes when the test ends (by pid); its shell with it.
    let script_pid = pids_with_comm("script")
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .is_ok_and(|e| String::from_utf8_lossy(&e).contains(&markers.prefix))
        })
        .collect::<Vec<_>>();
    let _guards: Vec<Proc> = script_pid.iter().map(|p| Proc::from_pid(*p)).collect();
    assert!(
        !script_pid.is_empty(),
        "the test's own script(1) was not found"
    );
    for p in &script_pid {
        assert!(
            !pids.contains(p),
            "script holding a live terminal planned: {doc}"
        );
    }
}

/// A desktop program connected to a display server (an X11 socket) is
/// never a leftover, whatever its markers say; an idle one is.
#[test]
fn a_display_client_is_not_taken() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    // A display "server": an abstract X11 socket with a unique display number.
    let display = 60000 + (std::process::id() % 5000);
    let (srv_name, srv_bin) = python_bin(&env, "xs");
    let server_py = format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind('\\0/tmp/.X11-unix/X{display}')\ns.listen(8)\nc=[]\nwhile True: c.append(s.accept()[0])"
    );
    let mut c = Command::new(&srv_bin);
    c.arg("-c").arg(&server_py);
    env.isolate(&mut c);
    let _server = Proc::from_child(c.spawn().unwrap());
    let (cl, cl_bin) = python_bin(&env, "xc");
    let client_py = format!(
        "import socket,time\nfor i in range(100):\n  try:\n    s=socket.socket(socket.AF_UNIX); s.connect('\\0/tmp/.X11-unix/X{display}'); break\n  except OSError: time.sleep(0.05)\ntime.sleep(3600)"
    );
    let line = format!(
        "setsid {} -c \"{}\" </dev/null >/dev/null 2>&1 &",
        cl_bin.display(),
        client_py.replace('"', "\\\"")
    );
    let client = orphan_from_dead_agent(&mut env, &markers, &line, &cl);
    // Connected?
    assert!(wait_until(Duration::from_secs(5), || unix_fds(client.pid) > 0));
    std::thread::sleep(Duration::from_millis(300));
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&client.pid),
        "a display client was planned: {doc}"
    );
    assert!(explain(&env, client.pid).contains("display"));
    let _ = srv_name;
}

fn unix_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// A symlink to python3 under a unique name: the kernel comm is the link's
/// name, and python still finds its library through the real path.
fn python_bin(env: &TestEnv, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let bin = env.path(&format!("bin/{name}"));
    let real = Command::new("python3")
        .args([
            "-c",
            "import sys,os; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    std::os::unix::fs::symlink(real, &bin).unwrap();
    (name, bin)
}

/// A dev server left by a dead session: planned while idle, kept while a
/// live local process outside the family holds an established connection
/// to it.
#[test]
fn a_dev_server_in_use_is_kept_an_idle_one_is_not() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (srv, srv_bin) = python_bin(&env, "dv");
    let port_file = env.path(&format!("port-{srv}"));
    let py = format!(
        "import socket\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(8)\nopen('{}','w').write(str(s.getsockname()[1]))\nc=[]\nwhile True: c.append(s.accept()[0])",
        port_file.display()
    );
    let line = format!(
        "setsid {} -c \"{}\" </dev/null >/dev/null 2>&1 &",
        srv_bin.display(),
        py.replace('"', "\\\"")
    );
    let server = orphan_from_dead_agent(&mut env, &markers, &line, &srv);
    assert!(wait_until(Duration::from_secs(5), || port_file.exists()));
    std::thread::sleep(Duration::from_millis(100));
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (pids, doc) = planned(&env);
    assert!(
        pids.contains(&server.pid),
        "an idle dev server is a leftover: {doc}"
    );
    // A "browser": this test's own client, a live local process.
    let conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&server.pid),
        "a dev server in use was planned: {doc}"
    );
    drop(conn);
}

/// A pipe to a protected process is live work: an agent ran in a tmux
/// pane as `agent | cat`, and its `setsid` job (no terminal) writes into
/// the pipe that `cat`, in the pane, still reads after the agent died.
#[test]
fn a_process_writing_to_a_pane_through_a_pipe_is_kept() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (agent_name, agent) = agent_shell(&mut env, "pa");
    let (w, w_bin) = shell_bin(&env, "pw");
    // The reader: a copy of cat under a unique name.
    let r = unique_name("pr");
    let r_bin = env.path(&format!("bin/{r}"));
    copy_exe("/bin/cat", &r_bin);
    let script = format!(
        "{}setsid {} -c 'while :; do sleep 1; done' 2>/dev/null </dev/null &\n{}",
        markers.exports(&uuid()),
        w_bin.display(),
        block_line(&env)
    );
    let script_file = env.path("pane-agent.sh");
    std::fs::write(&script_file, script).unwrap();
    let tmux = Tmux::start(
        &env,
        &format!(
            "{} {} | {} >/dev/null; sleep 3600",
            agent.display(),
            script_file.display(),
            r_bin.display()
        ),
    );
    let pane = tmux.first_pane_pid();
    let agent_p = Proc::from_pid(find_descendant(pane, &agent_name).expect("agent in pane"));
    let reader = Proc::from_pid(find_descendant(pane, &r).expect("reader in pane"));
    let writer = started(&w);
    agent_p.signal(libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(5), || !agent_p.alive()));
    assert!(wait_until(Duration::from_secs(5), || writer
        .ppid()
        .is_some_and(|pp| pp != agent_p.pid)));
    assert!(reader.alive(), "the pane's reader must still read");
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&writer.pid),
        "a pipe to a pane reader was planned: {doc}"
    );
    assert!(explain(&env, writer.pid).contains("serves a live process"));
    // Without the reader, the same writer is a leftover.
    drop(reader);
    std::thread::sleep(Duration::from_millis(200));
    let (pids, doc) = planned(&env);
    assert!(
        pids.contains(&writer.pid),
        "an idle writer is a leftover: {doc}"
    );
    drop(tmux);
}

/// A marker naming an agent that started after the process does not tie
/// the process to that agent: the pid was re-used; the process's own
/// session is gone, so it is a leftover.
#[test]
fn a_marker_naming_a_younger_agent_does_not_tie() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (j, j_bin) = sleep_bin(&env, "yj");
    let (_, w_bin) = shell_bin(&env, "yw");
    let pidfile = env.path("younger-pid");
    // The job's process starts now; it execs (same pid, same start time)
    // with a marker naming the agent started after it.
    let script = format!(
        "while [ ! -s {f} ]; do sleep 0.05; done; exec env {m}=$(cat {f}) {j} 3600",
        f = pidfile.display(),
        m = markers.pid(),
        j = j_bin.display()
    );
    let job = spawn_orphan(&env, &w_bin, &["-c", &script]);
    std::thread::sleep(Duration::from_millis(50));
    let (_, agent_bin) = agent_shell(&mut env, "yg");
    let dir = env.path("");
    let agent = spawn_headless(&env, &agent_bin, &block_line(&env), &dir);
    assert!(
        agent.start_time > job.start_time,
        "the agent must be younger"
    );
    std::fs::write(&pidfile, agent.pid.to_string()).unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        comm_is(job.pid, &j)
    }));
    let scan = scan_all(&env);
    let entry = scan_entry(&scan, job.pid).expect("job in scan");
    assert_ne!(
        entry["owner"]["pid"], agent.pid,
        "tied to a younger agent: {entry}"
    );
    let (pids, doc) = planned(&env);
    assert!(pids.contains(&job.pid), "its own session is gone: {doc}");
    assert!(agent.alive());
}

/// Claude Code's "move to background": `claude daemon run` and what it
/// hosts are never taken, even with every marker of a dead session and a
/// reaper parent; when the daemon is an agent itself it is protected, not
/// an orphan.
#[test]
fn a_claude_background_session_is_never_taken() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (_, agent_daemon_bin) = agent_shell(&mut env, "dm");
    let (_, plain_daemon_bin) = shell_bin(&env, "dp");
    let (hosted, hosted_bin) = sleep_bin(&env, "hs");
    let (hosted2, hosted2_bin) = sleep_bin(&env, "ht");
    let mut daemons = Vec::new();
    for (bin, job) in [
        (&plain_daemon_bin, &hosted_bin),
        (&agent_daemon_bin, &hosted2_bin),
    ] {
        // argv: `claude daemon run` (a script named `daemon` in its cwd, run
        // with `run` as its argument), hosting one job.
        let dir = env.path(&format!("bg-{}", unique_name("d")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("daemon"),
            format!("{} 3600 &\nwait\n", job.display()),
        )
        .unwrap();
        daemons.push(format!(
            "(cd {d} && setsid python3 -c 'import os,sys; os.execv(sys.argv[1], [\"claude\", \"daemon\", \"run\"])' {b} </dev/null >/dev/null 2>&1 &)",
            d = dir.display(),
            b = bin.display()
        ));
    }
    let line = daemons.join("\n");
    let hosted_p = orphan_from_dead_agent(&mut env, &markers, &line, &hosted);
    let hosted2_p = started(&hosted2);
    let plain = Proc::from_pid(hosted_p.ppid().unwrap());
    let agent_daemon = Proc::from_pid(hosted2_p.ppid().unwrap());
    let (pids, doc) = planned(&env);
    for p in [&plain, &hosted_p, &agent_daemon, &hosted2_p] {
        assert!(
            !pids.contains(&p.pid),
            "background session process {} planned: {doc}",
            p.pid
        );
    }
    let why = explain(&env, plain.pid);
    assert!(why.contains("claude daemon run"), "{why}");
    let scan = scan_all(&env);
    assert_eq!(
        class_in_scan(&scan, agent_daemon.pid).as_deref(),
        Some("protected"),
        "{}",
        scan_entry(&scan, agent_daemon.pid).unwrap_or_default()
    );
}

/// With `headless = "reap"`, an agent without a terminal under a live
/// parent is reapable: as `claude daemon run` it is a background session
/// and is kept, while the same agent with any other argv is planned.
#[test]
fn a_background_daemon_under_a_live_parent_is_kept_when_headless_agents_are_reaped() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "[policy]\nheadless = \"reap\"\n");
    let (_, daemon_bin) = agent_shell(&mut env, "hd");
    let (_, plain_bin) = agent_shell(&mut env, "hp");
    let dir = env.path(&format!("bg-{}", unique_name("d")));
    std::fs::create_dir_all(&dir).unwrap();
    // argv `claude daemon run`: the shell runs the script `daemon` here.
    std::fs::write(dir.join("daemon"), block_line(&env)).unwrap();
    let mut c = Command::new(&daemon_bin);
    c.arg0("claude").args(["daemon", "run"]).current_dir(&dir);
    let daemon = spawn_detached(&env, &mut c);
    let plain = spawn_headless(&env, &plain_bin, &block_line(&env), &dir);
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{}/cmdline", daemon.pid))
            .is_ok_and(|a| a.starts_with(b"claude\0daemon\0run\0"))
    }));
    let (pids, doc) = planned(&env);
    assert!(
        pids.contains(&plain.pid),
        "a headless agent is reapable here: {doc}"
    );
    assert!(
        !pids.contains(&daemon.pid),
        "the background daemon planned: {doc}"
    );
}

/// A dead session's shell that started another agent with `nohup … &`
/// (pid markers only, as opencode's are): the shell is re-parented, its
/// child agent lives. Taking the shell would orphan that agent, so it is
/// never a leftover.
#[test]
fn the_shell_above_a_live_nested_agent_is_not_taken() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let (sh, sh_bin) = shell_bin(&env, "nw");
    let (nested, nested_bin) = agent_shell(&mut env, "nn");
    let line = format!(
        "export {}=$$ {}=1\nsetsid nohup {} -c '{} -c \"{}\"; :' </dev/null >/dev/null 2>&1 &",
        markers.pid(),
        markers.constant(),
        sh_bin.display(),
        nested_bin.display(),
        block_line(&env).trim_end(),
    );
    let shell = orphan_from_dead_agent_with(&mut env, "", &line, &sh);
    let agent = started(&nested);
    assert_eq!(
        agent.ppid(),
        Some(shell.pid),
        "the nested agent runs under the shell"
    );
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&shell.pid),
        "the shell above a live agent planned: {doc}"
    );
    assert!(
        !pids.contains(&agent.pid),
        "the nested agent planned: {doc}"
    );
    let why = explain(&env, shell.pid);
    assert!(!why.contains("leftover"), "{why}");
}

/// The same through a named FIFO: an orphaned job of a session nobody
/// shares writes into a FIFO a live agent reads. It serves that agent;
/// once the reader is gone, it is a leftover.
#[test]
fn a_process_writing_to_a_live_agent_through_a_fifo_is_kept() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let fifo = env.path(&format!("fifo-{}", unique_name("f")));
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (job, job_bin) = sleep_bin(&env, "fw");
    let (_, agent_bin) = agent_shell(&mut env, "fa");
    let script = format!(
        "(export {}={}; setsid {} 3600 </dev/null >{f} 2>/dev/null &)\nexec 8<{f}\n{}",
        markers.sess(),
        uuid(),
        job_bin.display(),
        block_line(&env),
        f = fifo.display(),
    );
    let dir = env.path("");
    let mut agent = spawn_headless(&env, &agent_bin, &script, &dir);
    let writer = started(&job);
    assert!(
        wait_until(Duration::from_secs(10), || {
            holds_open(agent.pid, &fifo) && writer.ppid().is_some_and(|pp| pp != agent.pid)
        }),
        "the agent never opened the FIFO, or the writer was not re-parented"
    );
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&writer.pid),
        "a FIFO writer to a live agent planned: {doc}"
    );
    let why = explain(&env, writer.pid);
    assert!(why.contains("serves a live process"), "{why}");

    agent.signal(libc::SIGKILL);
    agent.wait_status();
    let (pids, doc) = planned(&env);
    assert!(
        pids.contains(&writer.pid),
        "an idle FIFO writer is a leftover: {doc}"
    );
}

/// An agent in a container (its own PID namespace): its MCP server's
/// wrapper exited, so the server belongs to the namespace's init, and its
/// pid marker names the agent by its pid in that namespace. That number
/// means nothing in the host's table, so the server is never taken for a
/// dead session's leftover.
#[test]
fn a_pid_marker_from_another_pid_namespace_ties_nothing_here() {
    let prefix = first_working_prefix(
        &[&["unshare", "-pf", "--"], &["unshare", "-rpf", "--"]],
        &["true"],
    );
    let Some(prefix) = prefix else {
        skip("cannot enter a PID namespace (unshare -pf / -rpf)");
        return;
    };
    let mut env = TestEnv::new();
    let markers = Markers::new();
    // The namespace's init is a shell copy listed as a reaper parent (as
    // `tini` is by default).
    let (init, init_bin) = shell_bin(&env, "ni");
    env.write_config(&format!(
        "min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = [{:?}, {:?}]\n{}",
        init,
        adopter(&env),
        markers.config()
    ));
    let (_, agent_bin) = agent_shell(&mut env, "na");
    let (server, server_bin) = sleep_bin(&env, "ns");
    let script = env.path("ns-agent.sh");
    std::fs::write(
        &script,
        format!(
            "{}sh -c '{} 3600 </dev/null >/dev/null 2>&1 &'\n{}",
            markers.exports(&uuid()),
            server_bin.display(),
            block_line(&env)
        ),
    )
    .unwrap();
    let mut inner = Command::new(&init_bin);
    inner.arg("-c").arg(format!(
        "{} {} & wait",
        agent_bin.display(),
        script.display()
    ));
    env.isolate(&mut inner);
    let mut c = wrapped(&prefix, &inner);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let unshare = Proc::from_child(c.spawn().unwrap());
    // Killing the namespace's init ends everything in it (at drop): held
    // before anything below can fail.
    let mut init_pid = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            init_pid = children_of(unshare.pid).first().copied();
            init_pid.is_some()
        }),
        "the namespace's init never started"
    );
    let _init = Proc::from_pid(init_pid.unwrap());
    let server_p = started(&server);
    assert!(
        wait_until(Duration::from_secs(5), || server_p
            .ppid()
            .is_some_and(|pp| comm_is(pp, &init))),
        "the server was not re-parented to the namespace's init"
    );
    let (pids, doc) = planned(&env);
    assert!(
        !pids.contains(&server_p.pid),
        "a live container agent's server planned: {doc}"
    );
    let why = explain(&env, server_p.pid);
    assert!(why.contains("another PID namespace"), "{why}");
}

/// A job whose session a live agent still holds open, as codex keeps its
/// thread's rollout file open: a `setsid` job whose shell has exited carries
/// only the thread id (no marker names a pid). It is kept while the holder
/// lives, and is a leftover once the holder is gone.
#[test]
fn a_job_whose_session_a_live_agent_holds_open_is_kept() {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let session = uuid();
    // The holder: an agent with no markers of its own, holding the
    // session's file open on fd 3.
    let (_, holder_bin) = agent_shell(&mut env, "ho");
    let held = env.path(&format!("rollout-2026-12-03T10-00-00-{session}.jsonl"));
    let script = format!("exec 3>{}\n{}", held.display(), block_line(&env));
    let dir = env.path("");
    let mut holder = spawn_headless(&env, &holder_bin, &script, &dir);
    assert!(
        wait_until(Duration::from_secs(10), || {
            holds_open(holder.pid, &held)
        }),
        "the holder never opened {}",
        held.display()
    );
    // The job: started by a tool shell that is gone, carrying only the
    // held session's value.
    let (job, job_bin) = sleep_bin(&env, "hj");
    let job_p = orphan_from_dead_agent_with(
        &mut env,
        &format!("export {}={session}\n", markers.sess()),
        &setsid_job(&job_bin),
        &job,
    );

    let shares = format!("{}={session}", markers.sess());
    kept_until_the_holder_dies(&env, &job_p, &mut holder, &shares);
}

/// A holder whose open files cannot be read: a non-dumpable process of the
/// caller's own user (as codex hardens itself) hides its fd table. Whether
/// it holds the job's session is then unknown, so nobody's `stray` does not
/// take nobody's job while that holder lives; once it is gone, it does.
#[test]
fn a_job_whose_holder_cannot_be_read_is_not_taken() {
    if !is_root() {
        skip("needs root to run the holder, the job and stray as nobody");
        return;
    }
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    share_with_nobody(&env);
    let session = uuid();
    let held = env.path(&format!("rollout-2026-12-03T10-00-00-{session}.jsonl"));
    std::fs::write(&held, "").unwrap();
    let (holder_name, holder_bin) = python_bin(&env, "hn");
    env.names.push(holder_name);
    let mut c = Command::new(&holder_bin);
    c.args([
        "-c",
        // PR_SET_DUMPABLE (4) to 0: /proc/PID/fd becomes root's.
        "import ctypes, sys, time; f = open(sys.argv[1]); \
         ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); time.sleep(3600)",
    ])
    .arg(&held);
    env.isolate(&mut c);
    let mut holder = Proc::from_child(as_nobody(&c).spawn().unwrap());
    let fd_dir = format!("/proc/{}/fd", holder.pid);
    assert!(
        wait_until(Duration::from_secs(10), || {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&fd_dir).is_ok_and(|m| m.uid() == 0) && holds_open(holder.pid, &held)
        }),
        "the holder never hid its fd table while holding {}",
        held.display()
    );
    let (job, job_bin) = sleep_bin(&env, "hu");
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "export {}={session}\n{}",
        markers.sess(),
        setsid_job(&job_bin)
    ));
    env.isolate(&mut c);
    output_ok(&mut as_nobody(&c));
    let job_p = started(&job);
    assert!(wait_until(Duration::from_secs(5), || job_p
        .ppid()
        .is_some_and(|pp| pp != std::process::id() as i32)));
    let doc = json_as_nobody(&env, &["reap", "--dry-run"]);
    assert!(
        !action_pids(&doc).contains(&job_p.pid),
        "planned while its holder lives: {doc}"
    );
    let mut c = env.cmd();
    c.args(["explain", &job_p.pid.to_string()]);
    let why = String::from_utf8_lossy(&output_ok(&mut as_nobody(&c)).stdout).into_owned();
    assert!(why.contains("could not be read"), "{why}");

    holder.signal(libc::SIGKILL);
    holder.wait_status();
    let doc = json_as_nobody(&env, &["reap", "--dry-run"]);
    assert!(
        action_pids(&doc).contains(&job_p.pid),
        "the holder is gone, the job is a leftover: {doc}"
    );
}

/// Claude Code's "move to background": the job the old session had
/// running is adopted by the background session, which holds its
/// task-output directory open; the job's `CLAUDE_PID` names the TUI that
/// exited. The host here is no agent by the rules (like the npm build's
/// `claude.exe`) and not above the job: its `claude…` name is what gets its
/// argv read. The job is kept while the host lives, and is a leftover after.
#[test]
fn a_job_a_background_session_adopted_is_kept() {
    adopted_job_is_kept_while_its_host_lives(false);
}

/// The same with the host an agent by the rules under a name that is not
/// `claude…` (the native build runs as its version, `2.1.x`, matched by the
/// default `exe` glob), under a live parent: no policy reaps it here, and
/// its argv must still be read, for it holds the job's session.
#[test]
fn a_job_a_background_session_adopted_is_kept_when_the_host_is_an_agent() {
    adopted_job_is_kept_while_its_host_lives(true);
}

fn adopted_job_is_kept_while_its_host_lives(host_is_agent: bool) {
    let mut env = TestEnv::new();
    let markers = Markers::new();
    write_config(&env, &markers, "");
    let session = uuid();
    let tasks = env.path(&format!("claude-0/-work/{session}/tasks"));
    std::fs::create_dir_all(&tasks).unwrap();
    let (py, py_bin) = python_bin(&env, "bh");
    let host_bin = if host_is_agent {
        env.names.push(py.clone());
        py_bin
    } else {
        let host_name: String = format!("claude{}", &py[2..]).chars().take(15).collect();
        let host_bin = env.path(&format!("bin/{host_name}"));
        std::fs::rename(&py_bin, &host_bin).unwrap();
        host_bin
    };
    let mut c = Command::new(&host_bin);
    c.arg0("claude bg-pty-host")
        .args([
            "-c",
            "import os, sys, time; d = os.open(sys.argv[1], os.O_RDONLY); time.sleep(3600)",
        ])
        .arg(&tasks)
        .args(["--bg-pty-host", "/nonexistent/stray-test.pty.sock"]);
    let mut host = spawn_detached(&env, &mut c);
    assert!(
        wait_until(Duration::from_secs(10), || { holds_open(host.pid, &tasks) }),
        "the host never opened {}",
        tasks.display()
    );
    if host_is_agent {
        let scan = scan_all(&env);
        assert!(
            scan_entry(&scan, host.pid).is_some_and(|e| e["rule"].as_str().is_some()),
            "the host is not an agent here: {}",
            scan_entry(&scan, host.pid).unwrap_or_default()
        );
    }
    let (job, job_bin) = sleep_bin(&env, "bj");
    let job_p =
        orphan_from_dead_agent_in(&mut env, &markers, &session, &setsid_job(&job_bin), &job);
    let shares = format!("{}={session}", markers.sess());
    kept_until_the_holder_dies(&env, &job_p, &mut host, &shares);
}

/// A live agent with a few hundred children is not reaped, but plain to
/// see: `scan` (JSON and the FAMILY column), `explain` (the family tree,
/// clipped), `check` (`family_processes` against its thresholds, Nagios
/// exit codes, Prometheus gauges).
#[test]
fn a_large_live_family_is_plain_to_see() {
    const N: usize = 300;
    let mut env = TestEnv::new();
    let markers = Markers::new();
    let (_, agent) = agent_shell(&mut env, "bg");
    let (child, child_bin) = sleep_bin(&env, "bk");
    let script = format!(
        "i=0; while [ $i -lt {N} ]; do {} 3600 </dev/null >/dev/null 2>&1 & i=$((i+1)); done\n{}",
        child_bin.display(),
        block_line(&env)
    );
    let dir = env.path("");
    let agent = spawn_headless(&env, &agent, &script, &dir);
    let count = || {
        descendants(agent.pid)
            .iter()
            .filter(|(_, c)| c == &child)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(30), || count() == N),
        "only {} children started",
        count()
    );
    let _children: Vec<Proc> = descendants(agent.pid)
        .into_iter()
        .map(|(p, _)| Proc::from_pid(p))
        .collect();
    let limits = |warn: u64, crit: u64| {
        write_config(
            &env,
            &markers,
            &format!("[check]\nfamily_processes_warn = {warn}\nfamily_processes_crit = {crit}\n"),
        )
    };
    limits(100, 1000);

    let scan = scan_all(&env);
    let a = scan_entry(&scan, agent.pid).expect("agent in scan");
    assert_eq!(a["family_processes"].as_u64(), Some(N as u64), "{a}");
    assert!(a["family_rss_bytes"].as_u64().unwrap_or(0) > 0, "{a}");
    let kid = scan_entry(&scan, _children[0].pid).expect("child in scan --all");
    assert!(
        kid["family_processes"].is_null(),
        "null for non-agents: {kid}"
    );
    let out = env.run(&["scan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAMILY"), "{text}");
    let row = text
        .lines()
        .find(|l| l.contains(&agent.pid.to_string()))
        .unwrap_or_default();
    assert!(row.contains(&format!("{N} ")), "FAMILY column: {row}");

    let text = explain(&env, agent.pid);
    assert!(text.contains(&format!("family:   {N} processes")), "{text}");
    assert!(text.contains("and 250 more"), "the tree is clipped: {text}");

    let (pids, doc) = planned(&env);
    assert!(pids.is_empty(), "a live family is never planned: {doc}");

    let (doc, out) = env.json(&["check", "--format", "json"]);
    let item = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "family_processes")
        .cloned()
        .expect("family_processes check");
    assert_eq!(item["status"], "warning", "{item}");
    assert_eq!(item["value"].as_f64(), Some(N as f64), "{item}");
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert!(doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "family_rss"));
    limits(100, 250);
    let out = env.run(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = env.run(&["check", "--format", "prometheus"]);
    let prom = String::from_utf8_lossy(&out.stdout);
    assert!(
        prom.contains(&format!("stray_family_processes_max {N}")),
        "{prom}"
    );
    assert!(prom.contains("stray_family_processes_crit 250"), "{prom}");
    assert!(prom.contains("stray_family_rss_bytes_max "), "{prom}");
}
