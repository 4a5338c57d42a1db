"""Read symmetric TSPLIB 95 files and tours, and compute distances exactly as TSPLIB defines them.

Every ``EDGE_WEIGHT_TYPE`` of the symmetric library is supported (EUC_2D, EUC_3D, MAN_2D/3D, MAX_2D/3D, CEIL_2D,
GEO, ATT, EXPLICIT) and every ``EDGE_WEIGHT_FORMAT``. The rules that matter (re-checked against all 31 published
optimal tours): ``nint(x) = floor(x + 0.5)`` (not Python's banker's ``round``); GEO truncates degrees with
``int(x)`` and uses ``PI = 3.141592``, ``RRR = 6378.388``; ATT rounds up pseudo-Euclidean distances; display
coordinates never define distances. Every defect raises :class:`TsplibError` naming the file and the line.

What a file may hold (the rest is refused before anything of its size is allocated):

- UTF-8 or ASCII text with any line ends, a byte-order mark, trailing blanks, no ``EOF`` line; keywords once
  each (``COMMENT`` may repeat); each section once; ``DIMENSION`` ≥ 1 (1- and 2-city files are valid TSPLIB:
  their only tour is read as such) and exactly as many node lines or weights as it announces.
- A ``FIXED_EDGES_SECTION`` only when empty (its ``-1`` alone): edges a tour must use are refused, since no
  backend or baseline keeps them (such a file was solved as the plain TSP, its answers called feasible).
- Numbers as plain decimals (no ``1_0``, NaN or infinity). EXPLICIT weights must be non-negative and symmetric
  (exactly: FULL_MATRIX entries are compared, not approximated); integer weights give integer distances,
  fractional ones float64 distances.
- Exact or refused: a file is accepted only when every tour is shorter than 2⁵³ (for EXPLICIT weights
  ``Σ_i max_j d_ij``, for coordinates ``n`` times a bound on the largest distance, the per-axis spans summed plus
  2), and no coordinate exceeds 2⁵³ in magnitude. Below 2⁵³ every integer is exact in float64, in which the
  kernels sum, so tour lengths are exact (fractional weights: float64 rounding only, see
  :func:`hopsolve.textio.check_exact_sum`).
- GEO coordinates are ``DDD.MM`` latitude then longitude: the degrees must lie within ±90 and ±180. The minutes
  are not checked: the published ali535 writes ``45.80`` and ``40.62``, and TSPLIB's formula reads them as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hopsolve import (
    Metric,
    ParseError,
    check_exact_sum,
    check_read_size,
    only_plain_numbers,
    parse_number,
    read_text,
)

COORDINATE_TYPES = {"EUC_2D": 2, "EUC_3D": 3, "MAN_2D": 2, "MAN_3D": 3, "MAX_2D": 2, "MAX_3D": 3, "CEIL_2D": 2,
                    "GEO": 2, "ATT": 2}
EXPLICIT_FORMATS = ("FULL_MATRIX", "UPPER_ROW", "LOWER_ROW", "UPPER_DIAG_ROW", "LOWER_DIAG_ROW", "UPPER_COL",
                    "LOWER_COL", "UPPER_DIAG_COL", "LOWER_DIAG_COL")
SECTIONS = ("NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DISPLAY_DATA_SECTION", "FIXED_EDGES_SECTION",
            "TOUR_SECTION", "DEPOT_SECTION", "DEMAND_SECTION")
KEYWORDS = ("NAME", "TYPE", "COMMENT", "DIMENSION", "CAPACITY", "EDGE_WEIGHT_TYPE", "EDGE_WEIGHT_FORMAT",
            "EDGE_DATA_FORMAT", "NODE_COORD_TYPE", "DISPLAY_DATA_TYPE")
GEO_PI = 3.141592
GEO_RADIUS = 6378.388
GEO_LIMITS = (90, 180)  # |degrees| of latitude, longitude
MAX_COORDINATE = 2**53


class TsplibError(ParseError):
    """A malformed or unsupported TSPLIB file."""


@dataclass(frozen=True, eq=False)
class TsplibInstance:
    """A symmetric TSP: its distance rule (:class:`~hopsolve.metric.Metric`) and what the file said about it.

    Coordinate instances keep only their points: distances are computed on the fly, and :attr:`distances` builds
    the full matrix only when asked (refused over ``HOPSOLVE_MAX_MATRIX_BYTES``).
    """

    name: str
    dimension: int
    edge_weight_type: str
    metric: Metric
    coordinates: np.ndarray | None = None
    display: np.ndarray | None = None
    edge_weight_format: str | None = None
    comment: str = ""
    header: dict[str, str] = field(default_factory=dict)

    @property
    def distances(self) -> np.ndarray:
        """The n × n distance matrix (built once on request for coordinate instances, within the memory limit)."""
        return self.metric.matrix_form()

    def tour_length(self, tour: np.ndarray) -> int | float:
        """Length of the closed tour visiting ``tour`` (0-based city indices) in order (an int for integer
        distances, as TSPLIB's always are)."""
        return self.metric.tour_length(np.asarray(tour))

    def plot_coordinates(self) -> np.ndarray | None:
        """Coordinates to draw (node or display coordinates), if the file has any."""
        return self.coordinates if self.coordinates is not None else self.display


def nint(x: np.ndarray) -> np.ndarray:
    """TSPLIB's nint: round half away from zero for non-negative distances (``int(x + 0.5)``)."""
    return np.floor(np.asarray(x) + 0.5).astype(np.int64)


def _geo_radians(values: np.ndarray) -> np.ndarray:
    degrees = np.trunc(values)
    minutes = values - degrees
    return GEO_PI * (degrees + 5.0 * minutes / 3.0) / 180.0


def distance_matrix(kind: str, coords: np.ndarray) -> np.ndarray:
    """The full integer distance matrix for a coordinate-based ``EDGE_WEIGHT_TYPE``, vectorised with numpy.

    The independent reference that :mod:`hopsolve.metric`'s on-the-fly distances are tested against."""
    c = np.asarray(coords, dtype=np.float64)
    diff = c[:, None, :] - c[None, :, :]
    if kind in ("EUC_2D", "EUC_3D"):
        d = nint(np.sqrt((diff**2).sum(axis=2)))
    elif kind in ("MAN_2D", "MAN_3D"):
        d = nint(np.abs(diff).sum(axis=2))
    elif kind in ("MAX_2D", "MAX_3D"):
        d = nint(np.abs(diff)).max(axis=2)
    elif kind == "CEIL_2D":
        d = np.ceil(np.sqrt((diff**2).sum(axis=2))).astype(np.int64)
    elif kind == "ATT":
        r = np.sqrt((diff**2).sum(axis=2) / 10.0)
        t = nint(r)
        d = np.where(t < r, t + 1, t)
    elif kind == "GEO":
        lat = _geo_radians(c[:, 0])
        lon = _geo_radians(c[:, 1])
        q1 = np.cos(lon[:, None] - lon[None, :])
        q2 = np.cos(lat[:, None] - lat[None, :])
        q3 = np.cos(lat[:, None] + lat[None, :])
        inner = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
        d = (GEO_RADIUS * np.arccos(inner) + 1.0).astype(np.int64)
    else:
        raise ValueError(kind)
    d = np.asarray(d, dtype=np.int64)
    np.fill_diagonal(d, 0)
    return d


def explicit_matrix(fmt: str, values: np.ndarray, n: int) -> np.ndarray:
    """Fill a symmetric matrix from the ``EDGE_WEIGHT_SECTION`` token stream of format ``fmt``."""
    d = np.zeros((n, n), dtype=np.float64)
    if fmt == "FULL_MATRIX":
        d[:] = values.reshape(n, n)
        return d
    rows, cols = [], []
    for i in range(n):
        if fmt in ("UPPER_ROW", "LOWER_COL"):
            js = range(i + 1, n)
        elif fmt in ("LOWER_ROW", "UPPER_COL"):
            js = range(i)
        elif fmt in ("UPPER_DIAG_ROW", "LOWER_DIAG_COL"):
            js = range(i, n)
        else:  # LOWER_DIAG_ROW, UPPER_DIAG_COL
            js = range(i + 1)
        rows.extend([i] * len(js))
        cols.extend(js)
    d[rows, cols] = values
    d[cols, rows] = values
    return d


def explicit_count(fmt: str, n: int) -> int:
    """How many numbers an ``EDGE_WEIGHT_SECTION`` of format ``fmt`` holds."""
    if fmt == "FULL_MATRIX":
        return n * n
    return n * (n + 1) // 2 if "DIAG" in fmt else n * (n - 1) // 2


class _Reader:
    """Lines with their numbers, and a token stream that can cross lines (for matrices that wrap anywhere)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.pos = 0

    def error(self, message: str, line: int | None = None) -> TsplibError:
        return TsplibError(message, self.path, line if line is not None else min(self.pos, len(self.lines)) or None)

    def capacity(self) -> int:
        """The most whitespace-separated tokens the rest of the file could hold."""
        return sum(len(line) + 1 for line in self.lines[self.pos:]) // 2

    def tokens(self, count: int, what: str) -> list[tuple[str, int]]:
        """The next ``count`` whitespace-separated tokens, each with its line number."""
        found: list[tuple[str, int]] = []
        while len(found) < count:
            if self.pos >= len(self.lines):
                raise self.error(f"{what} ends after {len(found)} of {count} numbers (file truncated)")
            line = self.lines[self.pos]
            head = line.strip().split(":")[0].strip().upper()
            if head in SECTIONS or head in KEYWORDS or head == "EOF":
                raise self.error(f"{what} has {len(found)} of {count} numbers before {head}", self.pos + 1)
            self.pos += 1
            found.extend((t, self.pos) for t in line.split())
        if len(found) > count:
            raise self.error(f"{what} has more than {count} numbers", found[count][1])
        return found


def _number(token: str, line: int, reader: _Reader, what: str) -> float:
    return parse_number(token, reader.path, line, what, error=TsplibError)


def _is_keyword_line(line: str) -> str | None:
    head = line.split(":")[0].strip().upper()
    return head if head in SECTIONS or head in KEYWORDS or head == "EOF" else None


def _node_block(reader: _Reader, n: int, width: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` lines of ``id x y [z]`` with ids 1..n each once (any order): the coordinates and each node's line."""
    section_line = reader.pos
    left = len(reader.lines) - reader.pos
    if n > left:
        nodes = sum(1 for text in reader.lines[reader.pos:] if text.strip() and _is_keyword_line(text) is None)
        raise reader.error(f"{what} needs {n} node lines (DIMENSION {n}) but only {nodes} follow "
                           "(file truncated or DIMENSION wrong)", section_line)
    check_read_size(16 * n * width, f"{what} of {n} nodes", reader.path, section_line)
    fast = _plain_node_block(reader, n, width)
    if fast is not None:
        return fast
    coords = np.full((n, width), np.nan)
    lines = np.zeros(n, dtype=np.int64)
    for count in range(n):
        while reader.pos < len(reader.lines) and not reader.lines[reader.pos].strip():
            reader.pos += 1
        if reader.pos >= len(reader.lines):
            raise reader.error(f"{what} ends after {count} of {n} nodes (file truncated or DIMENSION {n} wrong)")
        raw = reader.lines[reader.pos]
        reader.pos += 1
        parts = raw.split()
        head = _is_keyword_line(raw)
        if head:
            raise reader.error(f"{what} has {count} of {n} nodes before {head} (DIMENSION {n} wrong?)", reader.pos)
        if len(parts) != width + 1:
            raise reader.error(f"{what} line needs an id and {width} coordinates, got {_clip(raw)!r}", reader.pos)
        node = _number(parts[0], reader.pos, reader, "node id")
        if not node.is_integer() or not 1 <= node <= n:
            raise reader.error(f"node id {parts[0]} is not in 1..{n}", reader.pos)
        k = int(node) - 1
        if lines[k]:
            raise reader.error(f"duplicate node id {k + 1} (first on line {lines[k]})", reader.pos)
        lines[k] = reader.pos
        coords[k] = [_number(t, reader.pos, reader, "coordinate") for t in parts[1:]]
    return coords, lines


def _plain_node_block(reader: _Reader, n: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The next ``n`` lines as nodes read at numpy speed, or None when anything is unusual (a blank line, a line of
    another width, a token that is not a plain number, an id out of 1..n or repeated, a number out of range): the
    line-by-line loop then names the line. Both give the same nodes (tested). pla85900's section takes ~0.1 s
    here against ~1 s line by line, inside a user's time limit."""
    start = reader.pos
    block = reader.lines[start:start + n]
    if n < 1 or len(block) != n:
        return None
    text = "\n".join(block)
    if not only_plain_numbers(text) or any(len(line.split()) != width + 1 for line in block):
        return None
    try:
        values = np.array(text.split(), dtype=np.float64).reshape(n, width + 1)
    except ValueError:
        return None
    ids = values[:, 0]
    if not np.isfinite(values).all() or np.any(ids != np.floor(ids)) or ids.min() < 1 or ids.max() > n:
        return None
    order = ids.astype(np.int64) - 1
    if np.bincount(order, minlength=n).max() > 1:
        return None
    coords = np.empty((n, width))
    coords[order] = values[:, 1:]
    lines = np.empty(n, dtype=np.int64)
    lines[order] = np.arange(start + 1, start + n + 1)
    reader.pos = start + n
    return coords, lines


def _plain_weights(reader: _Reader, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The next ``count`` edge weights read at numpy speed, with each one's line, or None when anything is unusual
    (a token that is not a plain number, a number out of range, the section ending early or mid-line): then
    :meth:`_Reader.tokens` and :func:`parse_number` name the line. Both give the same weights (tested); si1032's
    533,000 weights take ~0.2 s here against ~3 s token by token."""
    start, got, counts = reader.pos, 0, []
    while got < count and start + len(counts) < len(reader.lines):
        counts.append(len(reader.lines[start + len(counts)].split()))
        got += counts[-1]
    block = reader.lines[start:start + len(counts)]
    if got != count or not only_plain_numbers("\n".join(block)):
        return None
    try:
        values = np.array(" ".join(block).split(), dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(values).all():
        return None
    reader.pos = start + len(counts)
    return values, np.repeat(np.arange(start + 1, start + len(counts) + 1), counts)


def _clip(text: str, size: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= size else text[: size - 3] + "..."


@dataclass
class _Parsed:
    """What the sections of a file held, with the lines to name in errors."""

    header: dict[str, str] = field(default_factory=dict)
    header_lines: dict[str, int] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)
    coords: np.ndarray | None = None
    coord_lines: np.ndarray | None = None
    display: np.ndarray | None = None
    weights: np.ndarray | None = None
    weight_lines: np.ndarray | None = None


def read_tsplib(path: str | Path) -> TsplibInstance:
    """Parse a symmetric TSPLIB file into a :class:`TsplibInstance` (see the module docstring for what it accepts)."""
    path = Path(path)
    reader = _Reader(path, read_text(path, TsplibError))
    parsed = _Parsed()
    header, header_lines = parsed.header, parsed.header_lines
    last_section: tuple[str, int] | None = None
    while reader.pos < len(reader.lines):
        raw = reader.lines[reader.pos]
        reader.pos += 1
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key = key.strip().upper()
        if key == "EOF":
            break
        if key in SECTIONS:
            if key in parsed.section_lines:
                raise reader.error(f"second {key} (the first is on line {parsed.section_lines[key]})", reader.pos)
            parsed.section_lines[key] = reader.pos
            if sep and value.strip():
                raise reader.error(f"{key} takes no value, got {_clip(value)!r}", reader.pos)
            n = _dimension(header, header_lines, reader)
            last_section = (key, n)
            _read_section(reader, parsed, key, n)
            continue
        if not sep:
            if last_section and _number_like(line):
                name, n = last_section
                raise reader.error(f"{name} has more entries than DIMENSION {n} (line {header_lines['DIMENSION']}) "
                                   f"announces: {_clip(line)!r}", reader.pos)
            raise reader.error(f"expected 'KEY: value' or a section name, got {_clip(line)!r}", reader.pos)
        if key not in KEYWORDS:
            raise reader.error(f"unknown keyword {_clip(key)!r}", reader.pos)
        if key in header:
            if key != "COMMENT":
                raise reader.error(f"second {key} line (the first is line {header_lines[key]})", reader.pos)
            header[key] = f"{header[key]} {value.strip()}".strip()
            continue
        header[key] = value.strip()
        header_lines[key] = reader.pos
        kind = (value.split() or [""])[0].upper()  # "TSP (M.~Hofmeister)" names the type, then a credit
        if key == "TYPE" and kind != "TSP":
            kind = value.strip()
            hint = " (asymmetric TSP is not supported)" if kind.upper() == "ATSP" else ""
            raise reader.error(f"TYPE {_clip(kind)!r} is not a symmetric TSP{hint}", reader.pos)
    return _assemble(path, reader, parsed)


def _number_like(line: str) -> bool:
    return line.split()[0].lstrip("+-").replace(".", "", 1).isdigit()


def _read_section(reader: _Reader, parsed: _Parsed, key: str, n: int) -> None:
    header, header_lines = parsed.header, parsed.header_lines
    if key == "NODE_COORD_SECTION":
        kind = header.get("EDGE_WEIGHT_TYPE", "")
        if kind and kind.upper() not in (*COORDINATE_TYPES, "EXPLICIT"):  # before its coordinates are parsed: an
            raise TsplibError(f"EDGE_WEIGHT_TYPE {_clip(kind)!r} is not supported (use one of "  # XRAY1 file was
                              f"{', '.join([*COORDINATE_TYPES, 'EXPLICIT'])})",  # refused for its 3 coordinates
                              reader.path, header_lines.get("EDGE_WEIGHT_TYPE"))
        width = COORDINATE_TYPES.get(kind.upper(), 3 if header.get("NODE_COORD_TYPE") == "THREED_COORDS" else 2)
        parsed.coords, parsed.coord_lines = _node_block(reader, n, width, key)
    elif key == "DISPLAY_DATA_SECTION":
        parsed.display, _ = _node_block(reader, n, 2, key)
    elif key == "EDGE_WEIGHT_SECTION":
        kind = header.get("EDGE_WEIGHT_TYPE", "")
        if kind and kind.upper() != "EXPLICIT":  # was reported as a missing EDGE_WEIGHT_FORMAT
            raise reader.error(f"{key} gives a distance matrix, but EDGE_WEIGHT_TYPE {_clip(kind)!r} (line "
                               f"{header_lines['EDGE_WEIGHT_TYPE']}) computes distances from coordinates; a "
                               "matrix needs EDGE_WEIGHT_TYPE: EXPLICIT and an EDGE_WEIGHT_FORMAT", reader.pos)
        fmt = header.get("EDGE_WEIGHT_FORMAT", "")
        if fmt not in EXPLICIT_FORMATS:
            raise reader.error(f"EDGE_WEIGHT_FORMAT {_clip(fmt) or '(missing)'!r} is not one of "
                               f"{', '.join(EXPLICIT_FORMATS)}", header_lines.get("EDGE_WEIGHT_FORMAT"))
        count = explicit_count(fmt, n)
        if count > reader.capacity():
            raise reader.error(f"{key} needs {count} numbers ({fmt}, DIMENSION {n}), more than the rest of the "
                               "file can hold (file truncated or DIMENSION wrong)", reader.pos)
        check_read_size(16 * n * n, f"the {n}×{n} distance matrix", reader.path, reader.pos)
        fast = _plain_weights(reader, count)
        if fast is not None:
            parsed.weights, parsed.weight_lines = fast
        else:
            tokens = reader.tokens(count, key)
            parsed.weights = np.array([_number(t, ln, reader, "edge weight") for t, ln in tokens], dtype=np.float64)
            parsed.weight_lines = np.array([ln for _, ln in tokens], dtype=np.int64)
    elif key == "FIXED_EDGES_SECTION":
        _empty_fixed_edges(reader)
    else:
        raise reader.error(f"{key} does not belong in a TSP file", reader.pos)


def _empty_fixed_edges(reader: _Reader) -> None:
    """Pass an empty ``FIXED_EDGES_SECTION`` (its ``-1`` alone); refuse one that fixes edges. No backend or baseline
    keeps edges a tour must use, so such a file was solved as the plain TSP and its answers reported feasible where
    they broke the constraint; and TSPLIB's optima of such files are not tour lengths (linhp318's 41345 is a
    Hamiltonian path's, shorter than lin318's optimal tour)."""
    section_line = reader.pos
    while reader.pos < len(reader.lines):
        line = reader.lines[reader.pos].strip()
        reader.pos += 1
        if not line:
            continue
        if line == "-1":
            return
        if _is_keyword_line(line) is not None:
            raise reader.error(f"FIXED_EDGES_SECTION (line {section_line}) has no closing -1 before {_clip(line)!r}",
                               reader.pos)
        raise reader.error("FIXED_EDGES_SECTION fixes edges, which hopsolve does not keep (its tours would ignore "
                           "them); remove the section to solve the TSP without them", reader.pos)
    raise reader.error(f"FIXED_EDGES_SECTION (line {section_line}) has no closing -1", section_line)


def _dimension(header: dict[str, str], header_lines: dict[str, int], reader: _Reader) -> int:
    if "DIMENSION" not in header:
        raise reader.error("section before DIMENSION", reader.pos)
    line = header_lines["DIMENSION"]
    n = parse_number(header["DIMENSION"], reader.path, line, "DIMENSION", integer=True, error=TsplibError)
    if n < 1:
        raise reader.error(f"DIMENSION must be positive, got {n}", line)
    return n


def _assemble(path: Path, reader: _Reader, parsed: _Parsed) -> TsplibInstance:
    header, header_lines = parsed.header, parsed.header_lines
    if not header and parsed.coords is None and parsed.weights is None and not any(s.strip() for s in reader.lines):
        raise TsplibError("the file is empty (a TSPLIB file starts with NAME, TYPE: TSP, DIMENSION, ...)", path, None)
    if "TYPE" not in header:
        raise TsplibError("missing TYPE (expected 'TYPE: TSP')", path, None)
    if "DIMENSION" not in header:
        raise TsplibError("missing DIMENSION", path, None)
    n = _dimension(header, header_lines, reader)
    kind = header.get("EDGE_WEIGHT_TYPE", "").upper()
    line = header_lines.get("EDGE_WEIGHT_TYPE")
    coords = parsed.coords
    if kind == "EXPLICIT":
        if parsed.weights is None:
            raise TsplibError("EXPLICIT weights but no EDGE_WEIGHT_SECTION", path, line)
        metric = _explicit_metric(path, parsed, n)
    elif kind in COORDINATE_TYPES:
        if coords is None:
            raise TsplibError(f"EDGE_WEIGHT_TYPE {kind} needs a NODE_COORD_SECTION", path, line)
        if coords.shape[1] != COORDINATE_TYPES[kind]:
            raise TsplibError(f"{kind} needs {COORDINATE_TYPES[kind]} coordinates per node", path, line)
        _check_coordinates(path, parsed, kind)
        metric = Metric(kind, points=coords)
    elif not kind:
        raise TsplibError(f"missing EDGE_WEIGHT_TYPE (one of {', '.join([*COORDINATE_TYPES, 'EXPLICIT'])})", path,
                          None)
    else:
        raise TsplibError(f"EDGE_WEIGHT_TYPE {_clip(kind)!r} is not supported (use one of "
                          f"{', '.join([*COORDINATE_TYPES, 'EXPLICIT'])})", path, line)
    return TsplibInstance(
        name=_instance_name(header, path), dimension=n,
        edge_weight_type=kind, metric=metric, coordinates=coords, display=parsed.display,
        edge_weight_format=header.get("EDGE_WEIGHT_FORMAT"), comment=header.get("COMMENT", ""), header=header)


def _explicit_metric(path: Path, parsed: _Parsed, n: int) -> Metric:
    weights, lines = parsed.weights, parsed.weight_lines
    fmt = parsed.header["EDGE_WEIGHT_FORMAT"]
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise TsplibError(f"negative edge weight {weights[negative[0]]:g}", path, int(lines[negative[0]]))
    largest = int(np.argmax(weights)) if weights.size else 0
    if weights.size:  # one weight over 2^53 is refused before any sum could overflow
        check_exact_sum(weights[largest], path, "an edge weight", int(lines[largest]), TsplibError)
    matrix = explicit_matrix(fmt, weights, n)
    if fmt == "FULL_MATRIX":
        asymmetric = np.argwhere(matrix != matrix.T)
        if asymmetric.size:
            i, j = (int(k) for k in asymmetric[0])
            raise TsplibError(f"FULL_MATRIX is not symmetric: d({i + 1},{j + 1}) = {matrix[i, j]:g} but "
                              f"d({j + 1},{i + 1}) = {matrix[j, i]:g} (asymmetric TSP is not supported)",
                              path, int(lines[i * n + j]))
    np.fill_diagonal(matrix, 0)
    check_exact_sum(float(matrix.max(axis=1).sum()), path, f"a tour's length ({n} edges)",
                    parsed.section_lines["EDGE_WEIGHT_SECTION"], TsplibError)
    integral = bool(np.all(matrix == np.rint(matrix)))
    return Metric.from_matrix(matrix.astype(np.int64) if integral else matrix)


def _check_coordinates(path: Path, parsed: _Parsed, kind: str) -> None:
    coords, lines = parsed.coords, parsed.coord_lines
    far = np.argwhere(np.abs(coords) > MAX_COORDINATE)
    if far.size:
        node, axis = (int(k) for k in far[0])
        raise TsplibError(f"coordinate {coords[node, axis]:g} of node {node + 1} is beyond ±2^53", path,
                          int(lines[node]))
    n = len(coords)
    if kind == "GEO":
        for axis, (name, limit) in enumerate(zip(("latitude", "longitude"), GEO_LIMITS)):
            outside = np.flatnonzero(np.abs(np.trunc(coords[:, axis])) > limit)
            if outside.size:
                node = int(outside[0])
                raise TsplibError(f"GEO {name} {coords[node, axis]:g} of node {node + 1} is outside ±{limit} degrees "
                                  "(DDD.MM)", path, int(lines[node]))
        largest = GEO_RADIUS * np.pi + 1.0
    else:  # every rule's distance is at most the summed spans (L1 ≥ L2 ≥ L∞ ≥ ATT's) plus its rounding
        largest = float((coords.max(axis=0) - coords.min(axis=0)).sum()) + 2.0
    check_exact_sum(n * largest, path, f"a tour's length ({n} cities spanning up to {largest:.3g})",
                    parsed.section_lines["NODE_COORD_SECTION"], TsplibError)


def _instance_name(header: dict[str, str], path: Path) -> str:
    """The NAME field's first word without a ``.tsp`` suffix (some files write ``NAME: ulysses16.tsp``)."""
    words = header.get("NAME", "").split()
    name = words[0] if words else path.stem
    return name[:-4] if name.endswith(".tsp") else name


def read_tour(path: str | Path, dimension: int | None = None) -> np.ndarray:
    """A ``.tour`` file's TOUR_SECTION as 0-based city indices; it must visit each of 1..n exactly once, n being
    ``dimension`` (when given, the file's DIMENSION must agree), else the file's DIMENSION, else the tour's size."""
    path = Path(path)
    reader = _Reader(path, read_text(path, TsplibError))
    header: dict[str, str] = {}
    header_lines: dict[str, int] = {}
    tour: list[int] = []
    tour_lines: list[int] = []
    section = None
    while reader.pos < len(reader.lines):
        line = reader.lines[reader.pos].strip()
        reader.pos += 1
        key, sep, value = line.partition(":")
        key = key.strip().upper()
        if not line:
            continue
        if key == "EOF":
            break
        if key == "TOUR_SECTION":
            if section is not None:
                raise reader.error(f"second TOUR_SECTION (the first is on line {section})", reader.pos)
            section = reader.pos
            _tour_section(reader, tour, tour_lines)
            continue
        if sep and key.replace("_", "").isalpha():
            if key in header and key != "COMMENT":
                raise reader.error(f"second {key} line (the first is line {header_lines[key]})", reader.pos)
            header[key] = value.strip()
            header_lines[key] = reader.pos
            if key == "TYPE" and value.strip().upper() != "TOUR":
                raise reader.error(f"TYPE {_clip(value)!r} is not TOUR", reader.pos)
            continue
        raise reader.error(f"expected 'KEY: value' or TOUR_SECTION, got {_clip(line)!r}", reader.pos)
    if section is None:
        raise TsplibError("no TOUR_SECTION", path, None)
    n = len(tour)
    if "DIMENSION" in header:
        line = header_lines["DIMENSION"]
        n = parse_number(header["DIMENSION"], path, line, "DIMENSION", integer=True, error=TsplibError)
        if dimension is not None and n != dimension:
            raise TsplibError(f"DIMENSION {n}, but the instance has {dimension} cities", path, line)
    n = dimension if dimension is not None else n
    if n < 1:
        raise TsplibError("the tour is empty" if not tour else f"DIMENSION must be positive, got {n}", path,
                          header_lines.get("DIMENSION", section))
    if len(tour) != n:
        raise TsplibError(f"the tour lists {len(tour)} cities; it must visit each of the {n} cities exactly once",
                          path, section)
    first = np.zeros(n + 1, dtype=np.int64)
    for city, line in zip(tour, tour_lines):
        if not 1 <= city <= n:
            raise TsplibError(f"city {city} is not in 1..{n}", path, line)
        if first[city]:
            raise TsplibError(f"city {city} appears twice (first on line {first[city]}); the tour must visit each "
                              f"of the {n} cities exactly once", path, line)
        first[city] = line
    return np.array(tour, dtype=np.int64) - 1


def _tour_section(reader: _Reader, tour: list[int], tour_lines: list[int]) -> None:
    """City ids up to the closing ``-1``."""
    while reader.pos < len(reader.lines):
        reader.pos += 1
        raw = reader.lines[reader.pos - 1]
        head = _is_keyword_line(raw)
        if head:
            raise reader.error(f"TOUR_SECTION reaches {head} without the closing -1", reader.pos)
        tokens = raw.split()
        for k, token in enumerate(tokens):
            city = parse_number(token, reader.path, reader.pos, "city id", integer=True, error=TsplibError)
            if city == -1:
                if k + 1 < len(tokens):
                    raise reader.error(f"{_clip(' '.join(tokens[k + 1:]))!r} after the closing -1", reader.pos)
                return
            tour.append(city)
            tour_lines.append(reader.pos)
    raise reader.error("TOUR_SECTION is not terminated by -1")


def write_tour(path: str | Path, name: str, tour: np.ndarray, comment: str = "") -> None:
    """Write ``tour`` (0-based) as a TSPLIB ``.tour`` file."""
    ids = "\n".join(str(int(c) + 1) for c in tour)
    header = f"NAME : {name}.tour\nCOMMENT : {comment}\nTYPE : TOUR\nDIMENSION : {len(tour)}\n"
    Path(path).write_text(f"{header}TOUR_SECTION\n{ids}\n-1\nEOF\n")
