#!/usr/bin/env python3
"""The client process of tests/sockets.rs: `sock_client.py MODE ADDR`.

Connects to ADDR (`127.0.0.1:PORT` or `[::1]:PORT`) with a small receive
buffer and MSS, set before connecting so that the SYN carries them
(loopback's 64 KiB segments and autotuned buffers would otherwise make a
slow reader ack in big, rare steps), then reads in MODE:

  read  as fast as data comes;
  idle  the same, but the test freezes it with SIGSTOP;
  slow  2 KiB every 20 ms, far below what the server offers, so its queue
        stays full while acks keep trickling in.

Exits when the server closes the connection or it fails.
"""

import socket
import sys
import time


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1024)
    s.connect((host, int(port)))
    if mode not in ("read", "idle", "slow"):
        sys.exit(f"unknown client mode {mode}")
    while True:
        try:
            if mode == "slow":
                time.sleep(0.02)
                data = s.recv(2048)
            else:
                data = s.recv(64 * 1024)
        except OSError:
            return
        if not data:
            return


main()
