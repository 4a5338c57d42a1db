"""Reading instance files: the text of a file and its numbers, with errors that name the file and the line."""

from __future__ import annotations

import math
from pathlib import Path

from hopsolve.errors import ParseError


def read_text(path: str | Path, error: type[ParseError] = ParseError) -> str:
    """The file's text; a missing or unreadable file is a one-line :class:`ParseError`."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise error("no such file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read file: {exc}", path) from None


def parse_number(token: str, path: str | Path, line: int | None, what: str, integer: bool = False,
                 error: type[ParseError] = ParseError) -> float:
    """``token`` as a finite number (an int with ``integer``), or an error naming ``what``, the file and line."""
    try:
        value = int(token) if integer else float(token)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise error(f"{what} {token!r} is not {kind}", path, line) from None
    if not math.isfinite(value):
        raise error(f"{what} {token!r} is not finite", path, line)
    return value
