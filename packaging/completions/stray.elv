
use builtin;
use str;

set edit:completion:arg-completer[stray] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'stray'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'stray'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand scan 'Classify agent processes; sends no signal'
            cand explain 'Explain why a process has its class'
            cand reap 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace'
            cand log 'Show the audit log: stray''s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises'
            cand pty 'PTY-slot usage, the processes holding PTY masters, and churn'
            cand tmux 'tmux servers and sockets, alive or dead'
            cand check 'Health check for monitoring (Nagios, JSON, Prometheus)'
            cand sockets 'TCP connections whose peer stopped acknowledging data'
            cand watch 'Reap and sample every interval in the foreground until SIGTERM/SIGINT'
            cand config 'Show the effective configuration or write a commented template'
            cand doctor 'Check this installation and say how to fix what is missing'
            cand completions 'Print shell completions'
            cand hooks 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stray;scan'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand --all 'Classify every process, not only agents'
            cand --tree 'Show agents in their process trees'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;explain'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;reap'= {
            cand --min-age 'Override min_age'
            cand --grace 'Override grace'
            cand --lock-wait 'How long to wait for another cycle''s lock before exiting 75'
            cand --coalesce 'For hooks that fire in bursts: wait DELAY, then run one cycle that covers every --coalesce call made meanwhile; a call made while another is waiting exits 0 at once (see stray hooks)'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -n 'Decide and report, but send nothing and write no state'
            cand --dry-run 'Decide and report, but send nothing and write no state'
            cand --wait 'Run the whole escalation now: TERM, wait up to grace, KILL, verify'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;log'= {
            cand --since 'Only events newer than this (e.g. 1h, 2d)'
            cand --pid 'Only events for this pid'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand --deaths 'Only deaths: OOM kills and signals from other processes'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;pty'= {
            cand --warn 'Warning threshold, percent of max (default: [pty] warn)'
            cand --crit 'Critical threshold, percent of max (default: [pty] crit)'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;tmux'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand --prune 'Remove dead sockets owned by the caller (root: any)'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;check'= {
            cand --textfile-dir 'Write DIR/stray.prom atomically (node_exporter textfile collector)'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;sockets'= {
            cand --stall 'How long the peer must acknowledge nothing (default: [sockets] stall)'
            cand --sample 'Take two samples this far apart inside this run (at most 1h)'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand --destroy 'Close stalled sockets with SOCK_DESTROY (needs CAP_NET_ADMIN)'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;watch'= {
            cand --interval 'Time between cycles'
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;config'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the effective configuration and where it came from'
            cand init 'Write a commented template (to PATH, or the user config path; - for stdout)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stray;config;show'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;config;init'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand --force 'Overwrite an existing file'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;config;help'= {
            cand show 'Print the effective configuration and where it came from'
            cand init 'Write a commented template (to PATH, or the user config path; - for stdout)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stray;config;help;show'= {
        }
        &'stray;config;help;init'= {
        }
        &'stray;config;help;help'= {
        }
        &'stray;doctor'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;completions'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;hooks'= {
            cand -c 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --config 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)'
            cand --state-dir 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)'
            cand --format 'Output format'
            cand --name 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable'
            cand -v 'More detail on stderr (repeatable)'
            cand --verbose 'More detail on stderr (repeatable)'
            cand -q 'Only errors on stderr'
            cand --quiet 'Only errors on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'stray;help'= {
            cand scan 'Classify agent processes; sends no signal'
            cand explain 'Explain why a process has its class'
            cand reap 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace'
            cand log 'Show the audit log: stray''s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises'
            cand pty 'PTY-slot usage, the processes holding PTY masters, and churn'
            cand tmux 'tmux servers and sockets, alive or dead'
            cand check 'Health check for monitoring (Nagios, JSON, Prometheus)'
            cand sockets 'TCP connections whose peer stopped acknowledging data'
            cand watch 'Reap and sample every interval in the foreground until SIGTERM/SIGINT'
            cand config 'Show the effective configuration or write a commented template'
            cand doctor 'Check this installation and say how to fix what is missing'
            cand completions 'Print shell completions'
            cand hooks 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stray;help;scan'= {
        }
        &'stray;help;explain'= {
        }
        &'stray;help;reap'= {
        }
        &'stray;help;log'= {
        }
        &'stray;help;pty'= {
        }
        &'stray;help;tmux'= {
        }
        &'stray;help;check'= {
        }
        &'stray;help;sockets'= {
        }
        &'stray;help;watch'= {
        }
        &'stray;help;config'= {
            cand show 'Print the effective configuration and where it came from'
            cand init 'Write a commented template (to PATH, or the user config path; - for stdout)'
        }
        &'stray;help;config;show'= {
        }
        &'stray;help;config;init'= {
        }
        &'stray;help;doctor'= {
        }
        &'stray;help;completions'= {
        }
        &'stray;help;hooks'= {
        }
        &'stray;help;help'= {
        }
    ]
    $completions[$command]
}
