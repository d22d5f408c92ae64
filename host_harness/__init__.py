"""Host side of usocket-hil: transport, virtual boards, flashing, deploy, peers, pytest plugin, CLI."""

from .serialurl import install as _install_serial_urls

__version__ = "0.1.0"

_install_serial_urls()  # rfc2217:// without a settings round trip per timeout change (serialurl/)
