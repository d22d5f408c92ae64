# Port models' name look-ups (models/_common): which names the host's resolver may be asked, under the project's
# network rule (docs/fidelity.md I10).  A virtual board with a network runs in its own namespace
# (host_harness/virtual/interpreter.py sets VBOARD_IP there) and resolves whatever its namespace can; anywhere else
# (a --no-network board, the model tests) only `localhost` and numeric addresses are looked up, and any other name
# fails at once as an unknown name does, so that each model raises its firmware's error and no query leaves.
# (No socket import here: imported late, `usocket` may already be usocket_port's, after install().)
import os


def checked(host):
    """`host`, for the unix usocket.getaddrinfo; OSError(-2) (EAI_NONAME, what the host resolver answers for a
    name it does not know) for a name outside a namespace.  The callers turn an OSError into the firmware's."""
    if type(host) is str and host != "localhost" and not os.getenv("VBOARD_IP"):
        for c in host:  # numeric: IPv4, or IPv6 (with a colon)
            if not (c.isdigit() or c == "." or (":" in host and c in ":abcdefABCDEF")):
                raise OSError(-2)
    return host
