//! Agent families, the reading side: builds the pure family rules' input
//! (`core::family`) from the table and reads only what those rules ask
//! for. Environments only for [`Decision::env_wanted`] (one read each);
//! command lines, fds, socket and pipe peers, display sockets and TCP
//! peers only for the processes the rules would take, since each of those
//! facts can only keep a process. Must not decide anything itself, nor read
//! anything for the rest of the table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::core::classify::{
    is_multiplexer_server, parent_is_listed_reaper, Classifier, Facts, Peers, Rules,
};
use crate::core::family::{self, Decision, Input, Outcome, ProcView};
use crate::core::lineage::Lineage;
use crate::core::process::{ProcKey, ProcessTable, Tty};
use crate::sys::proc::{PipeEnd, ProcSource};

/// Rounds of "read what the rules ask, decide again" before giving up:
/// environments settle in two (SPEC: the reader asks at most twice), and
/// the facts that keep a leftover only ever shrink the set.
const MAX_ROUNDS: usize = 8;

/// Everything the reading side needs besides the table.
pub(crate) struct Context<'a> {
    pub table: &'a ProcessTable,
    pub facts: &'a Facts,
    pub classifier: &'a Classifier<'a>,
    pub rules: &'a Rules,
    pub family: &'a family::Rules,
    pub memory: &'a Lineage,
    pub source: &'a dyn ProcSource,
    pub my_uid: u32,
    pub proc_root: &'a std::path::Path,
    /// Unix socket peers of these (pid, uid) candidates, the holders
    /// looked for among live agents and processes protected for a live
    /// reason (the survey's resolver, passed in so this module does not
    /// depend on the survey that calls it).
    pub resolve_peers: &'a PeerResolver<'a>,
}

/// (pid, uid) candidates → each one's unix socket peers.
pub(crate) type PeerResolver<'a> = dyn Fn(&[(i32, u32)]) -> HashMap<i32, Peers> + 'a;

/// The family decision, and the command lines read on the way (the
/// survey keeps them for display instead of reading them again).
pub(crate) struct Decided {
    pub decision: Decision,
    pub cmdlines: Vec<(i32, Vec<String>)>,
}

/// Decides every process's family outcome, reading as little as it can.
pub(crate) fn decide(cx: &Context<'_>) -> Decided {
    let mut read_args = HashSet::new();
    let mut input = Input {
        procs: views(cx, &mut read_args),
        remembered: remembered(cx.memory),
        ..Input::default()
    };
    let decision = settle(cx, &mut input, &mut read_args);
    let cmdlines = input
        .procs
        .into_iter()
        .filter(|v| read_args.contains(&v.key.pid))
        .map(|v| (v.key.pid, v.args))
        .collect();
    Decided { decision, cmdlines }
}

/// Reads what the rules ask for, round by round, until they ask nothing
/// more. Processes out of scope (another user's, for non-root) and any that
/// the rounds did not settle are never leftovers.
fn settle(cx: &Context<'_>, input: &mut Input, read_args: &mut HashSet<i32>) -> Decision {
    let index: HashMap<i32, usize> = input
        .procs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.key.pid, i))
        .collect();
    let names: BTreeSet<String> = cx
        .family
        .env_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let pid_markers: HashSet<&str> = cx
        .family
        .markers
        .iter()
        .filter(|m| matches!(m.kind, family::MarkerKind::Pid))
        .map(|m| m.name.as_str())
        .collect();
    let pid_ns = PidNamespaces::new(cx.proc_root);
    let mut asked: HashSet<ProcKey> = HashSet::new();
    let mut examined: HashSet<i32> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let d = family::decide_round(input, cx.family);
        let want: Vec<ProcKey> = d
            .env_wanted
            .iter()
            .copied()
            .filter(|k| asked.insert(*k))
            .collect();
        let holders: Vec<ProcKey> = d
            .held_wanted
            .iter()
            .copied()
            .filter(|k| !input.held_values.contains_key(k))
            .collect();
        if !holders.is_empty() {
            read_held(cx, input, &holders);
        }
        if !want.is_empty() {
            for k in want {
                if let Some(&i) = index.get(&k.pid) {
                    // Unreadable stays unread: the rules never take a
                    // process whose markers they could not see.
                    let env = cx.source.environ_named(k.pid, &names).ok();
                    let names_a_pid = env
                        .iter()
                        .flatten()
                        .any(|(name, _)| pid_markers.contains(name.as_str()));
                    if names_a_pid && d.pid_ns_matters.contains(&k) {
                        input.procs[i].foreign_pid_ns = pid_ns.foreign(k.pid);
                    }
                    input.procs[i].env = env;
                }
            }
            continue;
        }
        if !holders.is_empty() {
            continue;
        }
        let new: Vec<i32> = d
            .leftovers()
            .map(|v| v.key.pid)
            .filter(|p| examined.insert(*p))
            .collect();
        if new.is_empty() {
            return in_scope_only(family::finish(input, cx.family, d), cx);
        }
        examine(cx, input, &index, &new, &examined, read_args);
    }
    // Not settled: nothing is taken this cycle.
    let mut d = family::decide(input, cx.family);
    for v in &mut d.verdicts {
        if v.outcome == Outcome::Leftover {
            v.outcome = Outcome::Undecided;
            v.reason = "the family facts did not settle this cycle: not taken".into();
        }
    }
    d
}

/// The session values `holders` keep open (`family::held_session_values`),
/// each holder recorded so that it is not asked again. A holder that is
/// gone holds nothing; so does another user's (for non-root), whose files
/// cannot name a session of processes we may take. Any other failure to
/// read one of ours makes its files unknown (`held_unknown`).
fn read_held(cx: &Context<'_>, input: &mut Input, holders: &[ProcKey]) {
    // What they hold now, not a table kept from earlier in the survey.
    cx.source.forget_fd_tables(&[]);
    for k in holders {
        let ours = cx
            .table
            .get(k.pid)
            .is_some_and(|p| cx.my_uid == 0 || p.uid == cx.my_uid);
        let values = match cx.source.open_paths(k.pid) {
            Ok(paths) => paths
                .iter()
                .flat_map(|p| family::held_session_values(p))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || !ours => BTreeSet::new(),
            Err(_) => {
                input.held_unknown.insert(*k);
                BTreeSet::new()
            }
        };
        input.held_values.insert(*k, values);
    }
}

/// Whose PID namespace is not the table's: the pids a process's markers
/// name are numbers in its own namespace.
struct PidNamespaces<'a> {
    proc_root: &'a std::path::Path,
    table: std::io::Result<(u64, u64)>,
}

impl<'a> PidNamespaces<'a> {
    fn new(proc_root: &'a std::path::Path) -> PidNamespaces<'a> {
        PidNamespaces {
            proc_root,
            table: namespace_id(&proc_root.join("self/ns/pid")),
        }
    }

    /// True when `pid` runs in another PID namespace, or when that cannot
    /// be told (doubt keeps). A procfs with no namespace files at all (no
    /// `self/ns/pid` and none for `pid`) has one namespace.
    fn foreign(&self, pid: i32) -> bool {
        let own = namespace_id(&self.proc_root.join(format!("{pid}/ns/pid")));
        let missing = |r: &std::io::Result<(u64, u64)>| {
            r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        match (&self.table, &own) {
            (Ok(table), Ok(own)) => table != own,
            _ => !(missing(&self.table) && missing(&own)),
        }
    }
}

/// A namespace file's identity (device and inode of what it links to).
fn namespace_id(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

/// Only the caller's own processes may be taken (root: everyone's).
fn in_scope_only(mut d: Decision, cx: &Context<'_>) -> Decision {
    for v in &mut d.verdicts {
        // The survey's scope rule (`in_scope`): root sees everyone's.
        let ours = cx
            .table
            .get(v.key.pid)
            .is_some_and(|p| cx.my_uid == 0 || p.uid == cx.my_uid);
        if v.outcome == Outcome::Leftover && !ours {
            v.outcome = Outcome::Kept;
            v.reason = "another user's process: not ours to take".into();
        }
    }
    d
}

/// The state's lineage memory as remembered descent: agent → members.
fn remembered(memory: &Lineage) -> BTreeMap<ProcKey, BTreeSet<ProcKey>> {
    let mut out: BTreeMap<ProcKey, BTreeSet<ProcKey>> = BTreeMap::new();
    for s in &memory.seen {
        if let Some(agent) = s.agent {
            out.entry(agent).or_default().insert(ProcKey {
                pid: s.pid,
                start_time: s.start_time,
            });
        }
    }
    out
}

/// One view per process, from the table and the classifier's facts alone.
/// `read_args` gets the pids whose command line was read here (the
/// survey keeps those).
fn views(cx: &Context<'_>, read_args: &mut HashSet<i32>) -> Vec<ProcView> {
    cx.table
        .iter()
        .filter(|p| !p.kernel_thread)
        .map(|p| {
            let mut v = ProcView::new(p.pid, p.start_time, p.ppid, &p.comm);
            v.agent = cx.facts.agents.contains_key(&p.pid);
            v.live_tty = p.tty.is_some();
            v.multiplexer_server = is_multiplexer_server(p, &cx.rules.multiplexers);
            v.protected = cx.classifier.is_protected(p.pid) || p.pid <= 1;
            v.reaper_parent = p.tty.is_none()
                && p.ppid > 0
                && (parent_is_listed_reaper(cx.table, cx.rules, p)
                    || cx.facts.ns_init_parent.contains(&p.pid));
            if let Some(args) = &p.cmdline {
                v.args = args.clone();
            } else if (v.agent && !v.live_tty && !v.protected)
                || (!v.live_tty && p.comm.starts_with("claude"))
            {
                // An agent without a terminal may be a background
                // session's (`claude daemon run`), which is never an
                // orphan, hosts what runs below it, and holds the jobs it
                // adopted: read whether or not this cycle may signal it. A
                // protected one or one on a terminal is never an orphan
                // anyway. A `claude…` without a terminal that no rule
                // matches (the npm build's `claude.exe`) may be a
                // background session too.
                if let Ok(args) = cx.source.cmdline(p.pid) {
                    v.args = args;
                    read_args.insert(p.pid);
                }
            }
            v.rss_bytes = p.rss_bytes;
            v
        })
        .collect()
}

/// Reads, for the would-be leftovers `new`, the facts that can keep them:
/// command lines (theirs and their ancestors': a background host above),
/// PTY masters, unix socket and pipe peers, display sockets, TCP peers.
/// Any doubt (an unreadable fd table, peers that cannot be placed) keeps.
fn examine(
    cx: &Context<'_>,
    input: &mut Input,
    index: &HashMap<i32, usize>,
    new: &[i32],
    examined: &HashSet<i32>,
    read_args: &mut HashSet<i32>,
) {
    // Command lines up the chain (background_role reads argv).
    for &pid in new {
        let mut cur = Some(pid);
        let mut hops = 0;
        while let (Some(p), true) = (cur, hops < 64) {
            hops += 1;
            let Some(&i) = index.get(&p) else { break };
            if input.procs[i].args.len() <= 1 {
                if let Ok(args) = cx.source.cmdline(p) {
                    if !args.is_empty() {
                        input.procs[i].args = args;
                        read_args.insert(p);
                    }
                }
            }
            cur = Some(input.procs[i].ppid).filter(|pp| *pp > 1 && *pp != p);
        }
    }
    // Terminals whose master a would-be leftover holds.
    let live_ptys: HashSet<u32> = cx
        .table
        .iter()
        .filter_map(|p| match p.tty {
            Some(Tty::Pts(n)) => Some(n),
            _ => None,
        })
        .collect();
    for &pid in new {
        let Some(&i) = index.get(&pid) else { continue };
        match cx.source.pty_masters(pid) {
            Ok(masters) => {
                if masters.iter().any(|m| live_ptys.contains(m)) {
                    input.procs[i].holds_live_terminal = true;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => input.procs[i].holds_live_terminal = true,
        }
    }
    serves(cx, input, index, new, examined);
}

/// Sets `serves_live` and `display_client` for the would-be leftovers.
fn serves(
    cx: &Context<'_>,
    input: &mut Input,
    index: &HashMap<i32, usize>,
    new: &[i32],
    examined: &HashSet<i32>,
) {
    let live_agent = |pid: i32| cx.facts.agents.contains_key(&pid);
    // Unix sockets: peers held by a protected process or a live agent.
    let candidates: Vec<(i32, u32)> = new
        .iter()
        .filter_map(|&pid| cx.table.get(pid).map(|p| (pid, p.uid)))
        .collect();
    let peers = (cx.resolve_peers)(&candidates);
    for (pid, peers) in &peers {
        let Some(&i) = index.get(pid) else { continue };
        let live = match peers {
            Peers::Known(holders) => holders
                .iter()
                .any(|h| cx.classifier.is_protected_live(*h) || live_agent(*h)),
            Peers::Unknown(_) => true,
        };
        if live {
            input.procs[i].serves_live = true;
        }
    }
    let mut sockets: HashMap<i32, Vec<u64>> = HashMap::new();
    for &pid in new {
        match cx.source.socket_inodes(pid) {
            Ok(s) if !s.is_empty() => {
                sockets.insert(pid, s);
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                if let Some(&i) = index.get(&pid) {
                    input.procs[i].serves_live = true;
                }
            }
        }
    }
    if !sockets.is_empty() {
        foreign_netns(cx, input, index, &mut sockets);
        display_clients(input, index, &sockets);
        tcp_peers(input, index, &sockets, examined);
    }
    pipe_peers(cx, input, index, new);
}

/// A would-be leftover with sockets other than unix ones in another network
/// namespace (a container, `unshare -n`): its TCP peers are not in this
/// namespace's dump, so nothing shows it serves no one: kept. (Its unix
/// sockets are judged in its own namespace by the peer resolver.)
#[cfg(target_os = "linux")]
fn foreign_netns(
    cx: &Context<'_>,
    input: &mut Input,
    index: &HashMap<i32, usize>,
    sockets: &mut HashMap<i32, Vec<u64>>,
) {
    use crate::sys::unix_diag::{net_namespace, own_net_namespace};
    let own = own_net_namespace().ok();
    sockets.retain(|pid, inodes| {
        let ns = net_namespace(&cx.proc_root.join(pid.to_string()).join("ns/net")).ok();
        if own.is_some() && ns.is_some() && ns == own {
            return true;
        }
        let unix = cx.source.unix_sockets_among(*pid, inodes);
        let other = unix.map_or(true, |u| inodes.iter().any(|i| !u.contains(i)));
        if let (true, Some(&i)) = (other, index.get(pid)) {
            input.procs[i].serves_live = true;
        }
        false
    });
}

#[cfg(not(target_os = "linux"))]
fn foreign_netns(
    _: &Context<'_>,
    _: &mut Input,
    _: &HashMap<i32, usize>,
    _: &mut HashMap<i32, Vec<u64>>,
) {
}

/// Desktop programs: a unix socket whose peer is bound to an X11 or
/// Wayland display socket (an accepted socket carries its listener's name).
#[cfg(target_os = "linux")]
fn display_clients(
    input: &mut Input,
    index: &HashMap<i32, usize>,
    sockets: &HashMap<i32, Vec<u64>>,
) {
    let Ok(named) = crate::sys::unix_diag::unix_names() else {
        return;
    };
    for (pid, inodes) in sockets {
        let display = inodes.iter().any(|i| {
            named
                .peers
                .get(i)
                .and_then(|peer| named.names.get(peer))
                .is_some_and(|n| family::is_display_socket(n))
        });
        if let (true, Some(&i)) = (display, index.get(pid)) {
            input.procs[i].display_client = true;
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn display_clients(_: &mut Input, _: &HashMap<i32, usize>, _: &HashMap<i32, Vec<u64>>) {}

/// An established TCP connection whose other end is on this host and held
/// by a process that is not a would-be leftover (a browser, an ssh tunnel):
/// live work. A dump that fails keeps every socket holder.
#[cfg(target_os = "linux")]
fn tcp_peers(
    input: &mut Input,
    index: &HashMap<i32, usize>,
    sockets: &HashMap<i32, Vec<u64>>,
    examined: &HashSet<i32>,
) {
    let conns = match crate::sys::inet_diag::established_tcp() {
        Ok(c) => c,
        Err(_) => {
            for pid in sockets.keys() {
                if let Some(&i) = index.get(pid) {
                    input.procs[i].serves_live = true;
                }
            }
            return;
        }
    };
    // The dead family's own sockets: a connection between two of them
    // serves nobody.
    let family_inodes: HashSet<u64> = sockets
        .iter()
        .filter(|(pid, _)| examined.contains(pid))
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let by_tuple: HashMap<(std::net::SocketAddr, std::net::SocketAddr), u64> = conns
        .iter()
        .map(|o| ((o.local, o.remote), o.inode))
        .collect();
    for (pid, inodes) in sockets {
        let mine: HashSet<u64> = inodes.iter().copied().collect();
        let live = conns.iter().filter(|o| mine.contains(&o.inode)).any(|o| {
            by_tuple
                .get(&(o.remote, o.local))
                .is_some_and(|other| *other != 0 && !family_inodes.contains(other))
        });
        if let (true, Some(&i)) = (live, index.get(pid)) {
            input.procs[i].serves_live = true;
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn tcp_peers(_: &mut Input, _: &HashMap<i32, usize>, _: &HashMap<i32, Vec<u64>>, _: &HashSet<i32>) {
}

/// A pipe whose other end a live agent or a protected process holds (the
/// opposite end: two writers of one pipe serve nobody by it). Reads the
/// fds of those (the caller's own, or everyone's for root) only while some
/// would-be leftover holds a pipe, and stops once every pipe is placed.
fn pipe_peers(cx: &Context<'_>, input: &mut Input, index: &HashMap<i32, usize>, new: &[i32]) {
    // The opposite end of each would-be leftover's pipe → who holds this end.
    let mut wanted: HashMap<PipeEnd, Vec<i32>> = HashMap::new();
    for &pid in new {
        match cx.source.pipe_ends(pid) {
            Ok(ends) => {
                for e in ends {
                    let other = PipeEnd {
                        write: !e.write,
                        ..e
                    };
                    wanted.entry(other).or_default().push(pid);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                if let Some(&i) = index.get(&pid) {
                    input.procs[i].serves_live = true;
                }
            }
        }
    }
    let owners: HashSet<u32> = new
        .iter()
        .filter_map(|p| cx.table.get(*p).map(|p| p.uid))
        .collect();
    // Holders are listed now, after the would-be leftovers' own pipes: a
    // table kept from earlier could miss a pipe opened since.
    cx.source.forget_fd_tables(new);
    for p in cx.table.iter() {
        if wanted.is_empty() {
            break;
        }
        let eligible = (cx.classifier.is_protected_live(p.pid)
            || cx.facts.agents.contains_key(&p.pid))
            && !p.kernel_thread
            && p.pid > 1
            && (cx.my_uid == 0 || owners.contains(&p.uid));
        if !eligible {
            continue;
        }
        let Ok(held) = cx.source.pipe_ends(p.pid) else {
            continue;
        };
        for end in held {
            for pid in wanted.remove(&end).unwrap_or_default() {
                if let Some(&i) = index.get(&pid) {
                    input.procs[i].serves_live = true;
                }
            }
        }
    }
}
