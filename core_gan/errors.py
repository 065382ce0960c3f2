"""The one exception type that means "the user gave us something we cannot use"."""


class UserError(Exception):
    """Bad input, bad flag or missing file: the CLI prints ``error: <message>`` and exits 2."""


def one_line(message: str) -> str:
    """A message on one line: a library's multi-line text folded at its line breaks."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())
