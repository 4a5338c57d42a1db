"""Reading instance files: text, numbers and ``.npy`` arrays, with errors that name the file and the line.

Every reader of a first-party plugin goes through these helpers, so that any byte sequence gives either a
valid instance or one :class:`~hopsolve.errors.ParseError` (or :class:`~hopsolve.errors.TooLargeError`):

- :func:`read_text` accepts UTF-8 (a leading byte-order mark is dropped) with ``\\n``, ``\\r\\n`` or ``\\r``
  line ends, and refuses UTF-16, undecodable bytes and control characters, naming the line;
- :func:`parse_number` accepts plain decimal numbers only: no ``1_0`` (which Python's ``int`` reads as 10),
  no non-ASCII digits, no NaN or infinity, nothing that overflows;
- :func:`read_npy` checks a ``.npy`` header against the file before numpy allocates anything, and accepts real
  numbers only (no complex, object, string or structured arrays; no ``.npz`` in disguise);
- :func:`check_exact_sum` is the arithmetic rule: a file's numbers are accepted only when every partial sum of a
  tour, cut, assignment or energy built from them stays below ``2**53`` in magnitude (:data:`MAX_EXACT`).
  Below that bound every integer is exact in float64, which the kernels sum in; so integer data give exact
  lengths and costs, and fractional data are rounded only as float64 rounds (a relative error of at most
  ``k·2⁻⁵³`` of the sum of magnitudes for a sum of k terms) and can never overflow;
- :func:`check_read_size` refuses, before allocating, an array whose size comes from a header, over
  ``HOPSOLVE_MAX_MATRIX_BYTES``.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tokenize
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hopsolve.energy import format_bytes, max_matrix_bytes
from hopsolve.errors import ParseError, TooLargeError

MAX_EXACT = 2**53
"""Every partial sum of a file's numbers must stay below this: integers up to it are exact in float64."""

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # text files hold none of these
_BOMS = {b"\xff\xfe": "UTF-16 (little-endian)", b"\xfe\xff": "UTF-16 (big-endian)"}
_INT64_MAX = 2**63 - 1


def check_input_file(path: str | Path, error: type[ParseError] = ParseError) -> None:
    """Refuse, before reading a byte, an input that is a device (``/dev/zero`` never ends: reading it filled 24 GB
    of memory) or a socket, or a regular file larger than ``HOPSOLVE_MAX_MATRIX_BYTES`` (it is read whole). A pipe
    is read as it comes. A missing file or a folder is left to the read, which names it."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        raise error("not a regular file (a device or a socket); name an instance file", path)
    if stat.S_ISREG(info.st_mode):
        check_read_size(info.st_size, "reading the whole file", path)


@contextmanager
def file_errors(path: str | Path, error: type[ParseError] = ParseError) -> Iterator[None]:
    """Check the input (:func:`check_input_file`), then turn the operating system's refusals inside the block (no
    such file, a folder, no permission, an I/O error) into one ``error`` naming ``path``."""
    check_input_file(path, error)
    try:
        yield
    except FileNotFoundError:
        raise error("no such file", path) from None
    except IsADirectoryError:
        raise error("is a directory, not a file", path) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", path) from None


def read_text(path: str | Path, error: type[ParseError] = ParseError) -> str:
    """The file's text with ``\\n`` line ends; a missing, unreadable or binary file is a one-line ``error``.

    A UTF-8 byte-order mark is dropped and a final DOS end-of-file mark (``\\x1a``) ignored. Since every control
    character but the tab is refused, ``str.splitlines`` numbers the lines as an editor does."""
    with file_errors(path, error):
        data = Path(path).read_bytes()
    for mark, encoding in _BOMS.items():
        if data.startswith(mark):
            raise error(f"the file is {encoding} text; save it as UTF-8 or ASCII", path, 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.endswith(b"\x1a"):
        data = data[:-1]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); is it a binary file?", path, line) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise error(f"control character U+{ord(bad.group()):04X} in the text; is it a binary file?", path, line)
    return text


def parse_number(token: str, path: str | Path, line: int | None, what: str, integer: bool = False,
                 error: type[ParseError] = ParseError) -> float:
    """``token`` as a finite number (an int within int64 with ``integer``), or an error naming ``what``, the file
    and line. Only plain ASCII decimals are numbers: ``12``, ``-3.5``, ``1e3`` (not ``1_0``, ``0x1f`` or ``٣``)."""
    if _NOT_FINITE.fullmatch(token):
        raise error(f"{what} {token!r} is not finite", path, line)
    if integer:
        if not _INTEGER.fullmatch(token):
            kind = "an integer" if _DECIMAL.fullmatch(token) else "a number"
            raise error(f"{what} {_shown(token)} is not {kind}{_hint(token)}", path, line)
        digits = token.lstrip("+-").lstrip("0")
        if len(digits) > 19 or abs(value := int(token)) > _INT64_MAX:
            raise error(f"{what} {_shown(token)} is out of range (beyond ±2^63)", path, line)
        return value
    if not _DECIMAL.fullmatch(token):
        raise error(f"{what} {_shown(token)} is not a number{_hint(token)}", path, line)
    value = float(token)
    if not math.isfinite(value):
        raise error(f"{what} {_shown(token)} is out of range (beyond ±1.8e308)", path, line)
    return value


def _hint(token: str) -> str:
    grouped = "_" in token and _DECIMAL.fullmatch(token.replace("_", ""))
    return " (digits may not be grouped with '_')" if grouped else ""


def _shown(token: str) -> str:
    return repr(token) if len(token) <= 40 else repr(token[:37] + "...")


_NOT_PLAIN = re.compile(r"[^0-9 \t\n.eE+-]")


def only_plain_numbers(text: str) -> bool:
    """Whether ``text`` holds nothing but digits, signs, points, exponents and whitespace: no comment, ``_``,
    NaN or control character. Readers' numpy fast paths take only such text and leave the rest to the
    token-by-token reader, which names the line of anything wrong."""
    return _NOT_PLAIN.search(text) is None


def tokens_per_line(body: str, count: int) -> bool:
    """Whether every line of ``body`` (ASCII text with ``\n`` line ends, as :func:`only_plain_numbers` passes)
    holds exactly ``count`` tokens, a final empty line allowed; found with numpy over the bytes (token starts, and
    the line each falls on), for readers' fast paths."""
    raw = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    if not len(raw):
        return True
    space = (raw == 32) | (raw == 9) | (raw == 10)
    starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
    newlines = np.flatnonzero(raw == 10)
    lines = len(newlines) + 1
    counts = np.bincount(np.searchsorted(newlines, starts), minlength=lines)
    return bool(np.all(counts[:-1] == count) and counts[-1] in (0, count))


def check_exact_sum(bound: float, path: str | Path, what: str, line: int | None = None,
                    error: type[ParseError] = ParseError) -> None:
    """Refuse a file whose numbers could add up to :data:`MAX_EXACT` or more: ``bound`` is the largest magnitude any
    partial sum of ``what`` (e.g. "a tour's length") can reach, computed in float64 (rounding is monotone, so a
    true bound of 2^53 or more never computes below it)."""
    if not bound < MAX_EXACT:  # strict: an integer token over 2^53 may round down to 2^53 itself; NaN-safe
        raise error(f"{what} could reach {bound:.3g}: it must stay below 2^53 ≈ 9.0e15 for float64 sums to be "
                    "exact; scale the numbers down", path, line)


def check_read_size(nbytes: int, what: str, path: str | Path, line: int | None = None) -> None:
    """Refuse, before allocating it, an array of ``nbytes`` bytes whose size a file announces, when it is over
    ``HOPSOLVE_MAX_MATRIX_BYTES`` (an invalid value of that variable is a :class:`ParameterError`)."""
    limit = max_matrix_bytes()
    if nbytes > limit:
        raise TooLargeError(f"{what} needs {format_bytes(nbytes)}, over the limit of "
                            f"{format_bytes(limit).lstrip('~')} (HOPSOLVE_MAX_MATRIX_BYTES)", path, line)


_HEADER_ERRORS = (ValueError, SyntaxError, TypeError, EOFError, OverflowError, RecursionError, MemoryError,
                  tokenize.TokenError)
_REAL_KINDS = {"b": "booleans", "i": "integers", "u": "integers", "f": "floats"}


def read_npy(path: str | Path, error: type[ParseError] = ParseError) -> np.ndarray:
    """A ``.npy`` array of real numbers (booleans, integers or floats, all finite).

    The header is read and checked against the file's size before the data are loaded, so an empty, truncated or
    foreign file (an ``.npz`` archive, a pickle, text), a complex, object, string or structured array, or a header
    announcing more data than the file holds, is one ``error``; nothing is allocated on a header's word."""
    path = Path(path)
    # numpy warns about deprecated dtype aliases in a header ('<a8' for bytes): the array is refused below by its
    # kind, and the warning is not the user's to see (nor, under -W error, an exception of numpy's to escape)
    with file_errors(path, error), path.open("rb") as stream, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise error(f"unsupported .npy format version {version[0]}.{version[1]}", path)
        except _HEADER_ERRORS as exc:
            stream.seek(0)
            hint = " (an .npz archive?)" if stream.read(4) == b"PK\x03\x04" else ""
            raise error(f"not a valid .npy file{hint}: {_first_line(exc)}", path) from None
        offset = stream.tell()
    if dtype.hasobject or dtype.kind not in _REAL_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        detail = "complex numbers" if dtype.kind == "c" else "objects" if dtype.hasobject else f"dtype {dtype}"
        raise error(f"the array holds {detail}; expected real numbers (booleans, integers or floats)", path)
    if any(size < 0 for size in shape):
        raise error(f"the header announces an invalid shape {shape}", path)
    count = math.prod(shape)
    expected = count * dtype.itemsize
    found = path.stat().st_size - offset
    if expected != found:
        state = "is truncated" if found < expected else f"has {found - expected} bytes after the data"
        raise error(f"the file {state}: its header announces shape {shape} ({expected} bytes of data), "
                    f"the file holds {found}", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.load(path, allow_pickle=False)
    except _HEADER_ERRORS as exc:
        raise error(f"not a valid .npy file: {_first_line(exc)}", path) from None
    if dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            where = tuple(int(k) for k in np.argwhere(bad)[0])
            raise error(f"the array holds {array[where]} at index {where}; every number must be finite", path)
    return array


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
