# Port model (circuitpython): `wifi.radio` (shared-bindings/wifi/Radio.c, ports/espressif/common-hal/wifi/
# Radio.c), station side only: connect(ssid, password="", *, channel=0, bssid=None, timeout=None) blocks
# and raises ConnectionError("No network with that ssid") / ConnectionError("Authentication failure");
# ipv4_address is None until connected.  Already connected to the same SSID, connect() returns at once without
# looking at the password (common-hal Radio.c); to another SSID it disconnects first.  stop_station() leaves
# the network.  The "access point" is wlan_env.py.
import utime as time  # the interpreter's own (time.py here is CircuitPython's)

import cp_builtins  # noqa: F401  (ConnectionError)
import wlan_env


class _IPv4Address:
    # ipaddress.IPv4Address, as far as str() and == go
    def __init__(self, text):
        self._t = text

    def __str__(self):
        return self._t

    def __repr__(self):
        return "IPv4Address('%s')" % self._t

    def __eq__(self, other):
        return str(other) == self._t


class Radio:
    def __init__(self):
        self.enabled = True
        self._up = False
        self._ssid = None

    def connect(self, ssid, password="", *, channel=0, bssid=None, timeout=None):
        if not self.enabled:
            raise RuntimeError("Wifi is not enabled")
        if self._up and ssid == self._ssid:
            return  # "Already connected to the desired network."
        self._up = False
        time.sleep_ms(wlan_env.ASSOC_MS)
        v = wlan_env.verdict(ssid, password)
        if v == "no_ap":
            raise ConnectionError("No network with that ssid")
        if v == "key":
            raise ConnectionError("Authentication failure")
        self._up = True
        self._ssid = ssid

    def stop_station(self):
        self._up = False

    @property
    def connected(self):
        return self._up

    @property
    def ipv4_address(self):
        return _IPv4Address(wlan_env.board_ip()) if self._up else None

    @property
    def ipv4_gateway(self):
        return _IPv4Address(wlan_env.gateway()) if self._up else None


radio = Radio()
