"""Host side of usocket-hil: transport, virtual boards, flashing, deploy, peers, pytest plugin, CLI."""

__version__ = "0.1.0"
