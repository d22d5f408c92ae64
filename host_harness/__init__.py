"""Host side of usocket-hil: transport, virtual boards, flashing, deploy, peers, pytest plugin, CLI."""

__version__ = "0.1.0"

# wipy:// and webrepl:// open through pyserial like any port (host_harness/netrepl).
from .netrepl import register as _register_network_ports  # noqa: E402

_register_network_ports()
