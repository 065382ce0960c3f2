"""The one exception type that means "the user gave us something we cannot use"."""


class UserError(Exception):
    """Bad input, bad flag or missing file: the CLI prints ``error: <message>`` and exits 2."""
