# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_stray_global_optspecs
    string join \n c/config= state-dir= format= v/verbose q/quiet name= h/help V/version
end

function __fish_stray_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_stray_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_stray_using_subcommand
    set -l cmd (__fish_stray_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c stray -n "__fish_stray_needs_command" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_needs_command" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_needs_command" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_needs_command" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_needs_command" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_needs_command" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_needs_command" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_needs_command" -f -a "scan" -d 'Classify agent processes; sends no signal'
complete -c stray -n "__fish_stray_needs_command" -f -a "explain" -d 'Explain why a process has its class'
complete -c stray -n "__fish_stray_needs_command" -f -a "reap" -d 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace'
complete -c stray -n "__fish_stray_needs_command" -f -a "log" -d 'Show the audit log: stray\'s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises'
complete -c stray -n "__fish_stray_needs_command" -f -a "pty" -d 'PTY-slot usage, the processes holding PTY masters, and churn'
complete -c stray -n "__fish_stray_needs_command" -f -a "tmux" -d 'tmux servers and sockets, alive or dead'
complete -c stray -n "__fish_stray_needs_command" -f -a "check" -d 'Health check for monitoring (Nagios, JSON, Prometheus)'
complete -c stray -n "__fish_stray_needs_command" -f -a "sockets" -d 'TCP connections whose peer stopped acknowledging data'
complete -c stray -n "__fish_stray_needs_command" -f -a "watch" -d 'Reap and sample every interval in the foreground until SIGTERM/SIGINT'
complete -c stray -n "__fish_stray_needs_command" -f -a "config" -d 'Show the effective configuration or write a commented template'
complete -c stray -n "__fish_stray_needs_command" -f -a "doctor" -d 'Check this installation and say how to fix what is missing'
complete -c stray -n "__fish_stray_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c stray -n "__fish_stray_needs_command" -f -a "hooks" -d 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file'
complete -c stray -n "__fish_stray_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stray -n "__fish_stray_using_subcommand scan" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand scan" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand scan" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand scan" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand scan" -l all -d 'Classify every process, not only agents'
complete -c stray -n "__fish_stray_using_subcommand scan" -l tree -d 'Show agents in their process trees'
complete -c stray -n "__fish_stray_using_subcommand scan" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand scan" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand scan" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand scan" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand explain" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand explain" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand explain" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand explain" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand explain" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand explain" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand explain" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand explain" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand reap" -l min-age -d 'Override min_age' -r
complete -c stray -n "__fish_stray_using_subcommand reap" -l grace -d 'Override grace' -r
complete -c stray -n "__fish_stray_using_subcommand reap" -l lock-wait -d 'How long to wait for another cycle\'s lock before exiting 75' -r
complete -c stray -n "__fish_stray_using_subcommand reap" -l coalesce -d 'For hooks that fire in bursts: wait DELAY, then run one cycle that covers every --coalesce call made meanwhile; a call made while another is waiting exits 0 at once (see stray hooks)' -r
complete -c stray -n "__fish_stray_using_subcommand reap" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand reap" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand reap" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand reap" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand reap" -s n -l dry-run -d 'Decide and report, but send nothing and write no state'
complete -c stray -n "__fish_stray_using_subcommand reap" -l wait -d 'Run the whole escalation now: TERM, wait up to grace, KILL, verify'
complete -c stray -n "__fish_stray_using_subcommand reap" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand reap" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand reap" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand reap" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand log" -l since -d 'Only events newer than this (e.g. 1h, 2d)' -r
complete -c stray -n "__fish_stray_using_subcommand log" -l pid -d 'Only events for this pid' -r
complete -c stray -n "__fish_stray_using_subcommand log" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand log" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand log" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand log" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand log" -l deaths -d 'Only deaths: OOM kills and signals from other processes'
complete -c stray -n "__fish_stray_using_subcommand log" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand log" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand log" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand log" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand pty" -l warn -d 'Warning threshold, percent of max (default: [pty] warn)' -r
complete -c stray -n "__fish_stray_using_subcommand pty" -l crit -d 'Critical threshold, percent of max (default: [pty] crit)' -r
complete -c stray -n "__fish_stray_using_subcommand pty" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand pty" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand pty" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand pty" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand pty" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand pty" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand pty" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand pty" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand tmux" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand tmux" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand tmux" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand tmux" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand tmux" -l prune -d 'Remove dead sockets owned by the caller (root: any)'
complete -c stray -n "__fish_stray_using_subcommand tmux" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand tmux" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand tmux" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand tmux" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand check" -l textfile-dir -d 'Write DIR/stray.prom atomically (node_exporter textfile collector)' -r -F
complete -c stray -n "__fish_stray_using_subcommand check" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand check" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand check" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand check" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand check" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand check" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand check" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand check" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand sockets" -l stall -d 'How long the peer must acknowledge nothing (default: [sockets] stall)' -r
complete -c stray -n "__fish_stray_using_subcommand sockets" -l sample -d 'Take two samples this far apart inside this run (at most 1h)' -r
complete -c stray -n "__fish_stray_using_subcommand sockets" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand sockets" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand sockets" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand sockets" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand sockets" -l destroy -d 'Close stalled sockets with SOCK_DESTROY (needs CAP_NET_ADMIN)'
complete -c stray -n "__fish_stray_using_subcommand sockets" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand sockets" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand sockets" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand sockets" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand watch" -l interval -d 'Time between cycles' -r
complete -c stray -n "__fish_stray_using_subcommand watch" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand watch" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand watch" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand watch" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand watch" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand watch" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stray -n "__fish_stray_using_subcommand watch" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -f -a "show" -d 'Print the effective configuration and where it came from'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -f -a "init" -d 'Write a commented template (to PATH, or the user config path; - for stdout)'
complete -c stray -n "__fish_stray_using_subcommand config; and not __fish_seen_subcommand_from show init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -l force -d 'Overwrite an existing file'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective configuration and where it came from'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "init" -d 'Write a commented template (to PATH, or the user config path; - for stdout)'
complete -c stray -n "__fish_stray_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stray -n "__fish_stray_using_subcommand doctor" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand doctor" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand doctor" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand doctor" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand doctor" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand doctor" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand completions" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand completions" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand completions" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand completions" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand completions" -s h -l help -d 'Print help'
complete -c stray -n "__fish_stray_using_subcommand completions" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand hooks" -s c -l config -d 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)' -r -F
complete -c stray -n "__fish_stray_using_subcommand hooks" -l state-dir -d 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)' -r -F
complete -c stray -n "__fish_stray_using_subcommand hooks" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
prometheus\t''"
complete -c stray -n "__fish_stray_using_subcommand hooks" -l name -d 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable' -r
complete -c stray -n "__fish_stray_using_subcommand hooks" -s v -l verbose -d 'More detail on stderr (repeatable)'
complete -c stray -n "__fish_stray_using_subcommand hooks" -s q -l quiet -d 'Only errors on stderr'
complete -c stray -n "__fish_stray_using_subcommand hooks" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stray -n "__fish_stray_using_subcommand hooks" -s V -l version -d 'Print version'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "scan" -d 'Classify agent processes; sends no signal'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "explain" -d 'Explain why a process has its class'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "reap" -d 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "log" -d 'Show the audit log: stray\'s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "pty" -d 'PTY-slot usage, the processes holding PTY masters, and churn'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "tmux" -d 'tmux servers and sockets, alive or dead'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "check" -d 'Health check for monitoring (Nagios, JSON, Prometheus)'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "sockets" -d 'TCP connections whose peer stopped acknowledging data'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "watch" -d 'Reap and sample every interval in the foreground until SIGTERM/SIGINT'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "config" -d 'Show the effective configuration or write a commented template'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "doctor" -d 'Check this installation and say how to fix what is missing'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "completions" -d 'Print shell completions'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "hooks" -d 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file'
complete -c stray -n "__fish_stray_using_subcommand help; and not __fish_seen_subcommand_from scan explain reap log pty tmux check sockets watch config doctor completions hooks help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stray -n "__fish_stray_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the effective configuration and where it came from'
complete -c stray -n "__fish_stray_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "init" -d 'Write a commented template (to PATH, or the user config path; - for stdout)'
