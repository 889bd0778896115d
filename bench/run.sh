#!/usr/bin/env bash
# Benchmark suite: builds stray --release, grows a real process forest on this
# machine to each size, and times stray against ps / ls interleaved.
#   bench/run.sh                       # sizes 200,1000,3000; 21 runs each
#   bench/run.sh --sizes 200 --runs 5  # quick look; --no-write keeps BENCHMARKS.md
#   bench/run.sh --servers 10          # panes spread over exactly 10 tmux servers
# Everything it starts is recorded by pid (+ start time) and socket name and
# torn down at the end, on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 bench/bench.py --bin target/release/stray "$@"
