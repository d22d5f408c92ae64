# Network bring-up through the glue (station mode on MicroPython, wifi.radio on CircuitPython) from the
# credentials the harness passes: env["wlan"] = (ssid, key).  A wrong key must end in a clear OSError within
# the timeout, never a hang.
from compat import Skip, check

CLAUSES = {"case_network_bringup": ("ext.network-bringup",)}


def case_network_bringup(env):
    import usocket_target
    up = getattr(usocket_target, "connect_network", None)
    if up is None:
        raise Skip("no radio to bring up: this target uses the host's network as it is")
    ssid, key = env["wlan"]
    try:
        up(ssid, key + "-wrong", 2000)
    except OSError as e:
        check(type(e) is OSError and len(e.args) >= 1, "wrong key: %r" % (e,))
    else:
        raise AssertionError("wrong key accepted")
    ip = up(ssid, key, 10000)
    check(ip == env["board_ip"], "station address %r, expected %r" % (ip, env["board_ip"]))
    return {"ip": ip}
