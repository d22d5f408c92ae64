# Port models' shared helpers over the unix port's native socket (models/_common, on the path after the model):
# the unix `socket` module speaks raw struct sockaddr_in bytes and polls one object at a time.
import select


def unaddr(sa):
    """Raw sockaddr_in bytes -> (dotted-quad str, port), the tuple the modelled firmware returns."""
    return ("%d.%d.%d.%d" % (sa[4], sa[5], sa[6], sa[7]), (sa[2] << 8) | sa[3])


def poll_one(s, ev, ms):
    """select.poll on one object: the ready list (empty after ms; -1 waits forever)."""
    p = select.poll()
    p.register(s, ev)
    return p.poll(ms)
