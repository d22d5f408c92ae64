# Port models' name look-ups (models/_common): the host's resolver, under the project's network rule
# (docs/fidelity.md I10).  A virtual board with a network runs in its own namespace (host_harness/virtual/
# interpreter.py sets VBOARD_IP there) and resolves whatever its namespace can; anywhere else (a --no-network
# board, the model tests) only `localhost` and numeric addresses are looked up, and any other name fails at once
# as an unknown name does, so that each model raises its firmware's error for it and no query leaves this host.
import os

import usocket as _u

_IN_NAMESPACE = bool(os.getenv("VBOARD_IP"))


def _local(host):
    if host == "localhost":
        return True
    v6 = ":" in host
    for c in host:
        if not (c.isdigit() or c == "." or (v6 and (c == ":" or c in "abcdefABCDEF"))):
            return False
    return True


def getaddrinfo(host, port, af, kind):
    # The unix usocket.getaddrinfo, whose failure is an OSError (the callers turn it into the firmware's error).
    if not _IN_NAMESPACE and type(host) is str and not _local(host):
        raise OSError(-2)  # EAI_NONAME, what the host resolver answers for a name it does not know
    return _u.getaddrinfo(host, port, af, kind)
