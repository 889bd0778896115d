
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'stray' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'stray'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'stray' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'Classify agent processes; sends no signal')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain why a process has its class')
            [CompletionResult]::new('reap', 'reap', [CompletionResultType]::ParameterValue, 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the audit log: stray''s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises')
            [CompletionResult]::new('pty', 'pty', [CompletionResultType]::ParameterValue, 'PTY-slot usage, the processes holding PTY masters, and churn')
            [CompletionResult]::new('tmux', 'tmux', [CompletionResultType]::ParameterValue, 'tmux servers and sockets, alive or dead')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Health check for monitoring (Nagios, JSON, Prometheus)')
            [CompletionResult]::new('sockets', 'sockets', [CompletionResultType]::ParameterValue, 'TCP connections whose peer stopped acknowledging data')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Reap and sample every interval in the foreground until SIGTERM/SIGINT')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the effective configuration or write a commented template')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this installation and say how to fix what is missing')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('hooks', 'hooks', [CompletionResultType]::ParameterValue, 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stray;scan' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Classify every process, not only agents')
            [CompletionResult]::new('--tree', '--tree', [CompletionResultType]::ParameterName, 'Show agents in their process trees')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;explain' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;reap' {
            [CompletionResult]::new('--min-age', '--min-age', [CompletionResultType]::ParameterName, 'Override min_age')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Override grace')
            [CompletionResult]::new('--lock-wait', '--lock-wait', [CompletionResultType]::ParameterName, 'How long to wait for another cycle''s lock before exiting 75')
            [CompletionResult]::new('--coalesce', '--coalesce', [CompletionResultType]::ParameterName, 'For hooks that fire in bursts: wait DELAY, then run one cycle that covers every --coalesce call made meanwhile; a call made while another is waiting exits 0 at once (see stray hooks)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Decide and report, but send nothing and write no state')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Decide and report, but send nothing and write no state')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Run the whole escalation now: TERM, wait up to grace, KILL, verify')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;log' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events newer than this (e.g. 1h, 2d)')
            [CompletionResult]::new('--pid', '--pid', [CompletionResultType]::ParameterName, 'Only events for this pid')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('--deaths', '--deaths', [CompletionResultType]::ParameterName, 'Only deaths: OOM kills and signals from other processes')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;pty' {
            [CompletionResult]::new('--warn', '--warn', [CompletionResultType]::ParameterName, 'Warning threshold, percent of max (default: [pty] warn)')
            [CompletionResult]::new('--crit', '--crit', [CompletionResultType]::ParameterName, 'Critical threshold, percent of max (default: [pty] crit)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;tmux' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Remove dead sockets owned by the caller (root: any)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;check' {
            [CompletionResult]::new('--textfile-dir', '--textfile-dir', [CompletionResultType]::ParameterName, 'Write DIR/stray.prom atomically (node_exporter textfile collector)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;sockets' {
            [CompletionResult]::new('--stall', '--stall', [CompletionResultType]::ParameterName, 'How long the peer must acknowledge nothing (default: [sockets] stall)')
            [CompletionResult]::new('--sample', '--sample', [CompletionResultType]::ParameterName, 'Take two samples this far apart inside this run (at most 1h)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('--destroy', '--destroy', [CompletionResultType]::ParameterName, 'Close stalled sockets with SOCK_DESTROY (needs CAP_NET_ADMIN)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;watch' {
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Time between cycles')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;config' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective configuration and where it came from')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented template (to PATH, or the user config path; - for stdout)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stray;config;show' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;config;init' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite an existing file')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;config;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective configuration and where it came from')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented template (to PATH, or the user config path; - for stdout)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stray;config;help;show' {
            break
        }
        'stray;config;help;init' {
            break
        }
        'stray;config;help;help' {
            break
        }
        'stray;doctor' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;completions' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;hooks' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Treat processes whose kernel comm is exactly NAME as agents, replacing every [match] rule (names, exe, cmdline, env). Repeatable')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (repeatable)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'stray;help' {
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'Classify agent processes; sends no signal')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain why a process has its class')
            [CompletionResult]::new('reap', 'reap', [CompletionResultType]::ParameterValue, 'Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the audit log: stray''s signals, deaths it witnessed (OOM kills, signals from other processes), oom_score_adj raises')
            [CompletionResult]::new('pty', 'pty', [CompletionResultType]::ParameterValue, 'PTY-slot usage, the processes holding PTY masters, and churn')
            [CompletionResult]::new('tmux', 'tmux', [CompletionResultType]::ParameterValue, 'tmux servers and sockets, alive or dead')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Health check for monitoring (Nagios, JSON, Prometheus)')
            [CompletionResult]::new('sockets', 'sockets', [CompletionResultType]::ParameterValue, 'TCP connections whose peer stopped acknowledging data')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Reap and sample every interval in the foreground until SIGTERM/SIGINT')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the effective configuration or write a commented template')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this installation and say how to fix what is missing')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('hooks', 'hooks', [CompletionResultType]::ParameterValue, 'Print a snippet that reaps the moment a tmux pane or session, or a Claude Code session, closes; edits no file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stray;help;scan' {
            break
        }
        'stray;help;explain' {
            break
        }
        'stray;help;reap' {
            break
        }
        'stray;help;log' {
            break
        }
        'stray;help;pty' {
            break
        }
        'stray;help;tmux' {
            break
        }
        'stray;help;check' {
            break
        }
        'stray;help;sockets' {
            break
        }
        'stray;help;watch' {
            break
        }
        'stray;help;config' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective configuration and where it came from')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented template (to PATH, or the user config path; - for stdout)')
            break
        }
        'stray;help;config;show' {
            break
        }
        'stray;help;config;init' {
            break
        }
        'stray;help;doctor' {
            break
        }
        'stray;help;completions' {
            break
        }
        'stray;help;hooks' {
            break
        }
        'stray;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
