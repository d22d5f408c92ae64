# Port model (esp32): micropython-lib's `webrepl` module (micropython/net/webrepl/webrepl.py) over the
# virtual board's host-side WebREPL server (host_harness/virtual/services/webrepl.py), which serves
# extmod/modwebrepl.c's protocol.  Reproduced: start(port=8266, password=None, accept_handler=...) stops a
# previous server, takes the password from the argument or webrepl_cfg.PASS ("WebREPL is not configured,
# run 'import webrepl_setup'" when neither, then _webrepl.password(None) fails: TypeError), a password over
# 9 characters is a ValueError (modwebrepl.c webrepl_set_password), prints "WebREPL server started on
# http://IP:PORT/" and "Started webrepl in normal mode" (or "manual override mode" with a password);
# stop() closes it.  The server itself is asked for through /.webrepl.json.
import json

import wlan_env

_REQUEST = "/.webrepl.json"


def _password(p):
    if not isinstance(p, str):
        raise TypeError("can't convert %s to str" % type(p).__name__)
    if len(p) > 9:
        raise ValueError()
    return p


def stop():
    try:
        import os

        os.remove(_REQUEST)
    except OSError:
        pass


def start(port=8266, password=None, accept_handler=True):
    stop()
    webrepl_pass = password
    if webrepl_pass is None:
        try:
            import webrepl_cfg

            webrepl_pass = webrepl_cfg.PASS
        except:
            print("WebREPL is not configured, run 'import webrepl_setup'")
    webrepl_pass = _password(webrepl_pass)
    with open(_REQUEST, "w") as f:
        f.write(json.dumps({"port": port, "password": webrepl_pass}))
    print("WebREPL server started on http://%s:%d/" % (wlan_env.board_ip(), port))
    if password is None:
        print("Started webrepl in normal mode")
    else:
        print("Started webrepl in manual override mode")


def start_foreground(port=8266, password=None):
    start(port, password, None)
