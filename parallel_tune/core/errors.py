"""The one kind of error every command prints as one line and exit status 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input or an impossible request: every CLI prints it as one line and exits with status 2."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first non-empty line: what a one-line error keeps of a library's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
