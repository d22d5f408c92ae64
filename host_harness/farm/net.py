"""Loopback port facts the farm's process wrappers wait on."""

from __future__ import annotations

from pathlib import Path

from ..flash.mockboot import free_loopback_port

__all__ = ["free_loopback_port", "tcp_listening"]


def tcp_listening(port: int) -> bool:
    """Something listens on 127.0.0.1:port — read from /proc/net/tcp, not probed: a probe connection would
    be a client that ser2net or a one-client serial server serves (and opens its port for)."""
    # gRPC (labgrid's coordinator) binds 127.0.0.1 as the v4-mapped [::ffff:127.0.0.1] on an AF_INET6 socket.
    wants = {"/proc/net/tcp": f"0100007F:{port:04X}", "/proc/net/tcp6": f"0000000000000000FFFF00000100007F:{port:04X}"}
    for table, want in wants.items():
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":  # 0A: LISTEN
                    return True
        except OSError:
            continue
    return False
