"""The one exception family the CLI turns into a one-line message and a non-zero exit (cli.exit_code)."""


class HilError(Exception):
    """A user-facing failure: its message is one line that says what went wrong and what to do."""


class BoardFileError(HilError):
    """A board definition is missing, unknown or malformed."""


class TransportError(HilError):
    """The port cannot be opened or went away."""
