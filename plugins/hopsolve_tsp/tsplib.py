"""Read symmetric TSPLIB 95 files and tours, and compute distances exactly as TSPLIB defines them.

Every ``EDGE_WEIGHT_TYPE`` of the symmetric library is supported (EUC_2D, EUC_3D, MAN_2D/3D, MAX_2D/3D, CEIL_2D,
GEO, ATT, EXPLICIT) and every ``EDGE_WEIGHT_FORMAT``. The rules that matter (re-checked against all 31 published
optimal tours): ``nint(x) = floor(x + 0.5)`` (not Python's banker's ``round``); GEO truncates degrees with
``int(x)`` and uses ``PI = 3.141592``, ``RRR = 6378.388``; ATT rounds up pseudo-Euclidean distances; display
coordinates never define distances. Every defect raises :class:`TsplibError` naming the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hopsolve import Metric, ParseError, parse_number, read_text

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


def _node_block(reader: _Reader, n: int, width: int, what: str) -> np.ndarray:
    """``n`` lines of ``id x y [z]`` with ids 1..n each once (any order)."""
    coords = np.full((n, width), np.nan)
    seen = np.zeros(n, dtype=bool)
    for _ in range(n):
        while reader.pos < len(reader.lines) and not reader.lines[reader.pos].strip():
            reader.pos += 1
        if reader.pos >= len(reader.lines):
            raise reader.error(f"{what} ends after {int(seen.sum())} of {n} nodes (file truncated)")
        raw = reader.lines[reader.pos]
        reader.pos += 1
        parts = raw.split()
        head = parts[0].split(":")[0].upper()
        if head in SECTIONS or head in KEYWORDS or head == "EOF":
            raise reader.error(f"{what} has {int(seen.sum())} of {n} nodes before {head} (DIMENSION mismatch?)",
                               reader.pos)
        if len(parts) != width + 1:
            raise reader.error(f"{what} line needs an id and {width} coordinates, got {raw.strip()!r}", reader.pos)
        node = _number(parts[0], reader.pos, reader, "node id")
        if not node.is_integer() or not 1 <= node <= n:
            raise reader.error(f"node id {parts[0]} is not in 1..{n}", reader.pos)
        k = int(node) - 1
        if seen[k]:
            raise reader.error(f"duplicate node id {k + 1}", reader.pos)
        seen[k] = True
        coords[k] = [_number(t, reader.pos, reader, "coordinate") for t in parts[1:]]
    return coords


def read_tsplib(path: str | Path) -> TsplibInstance:
    """Parse a symmetric TSPLIB file into a :class:`TsplibInstance` with its full distance matrix."""
    path = Path(path)
    reader = _Reader(path, read_text(path, TsplibError))
    header: dict[str, str] = {}
    header_lines: dict[str, int] = {}
    coords = display = weights = None
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
            n = _dimension(header, header_lines, reader)
            if key == "NODE_COORD_SECTION":
                kind = header.get("EDGE_WEIGHT_TYPE", "")
                width = COORDINATE_TYPES.get(kind, 3 if header.get("NODE_COORD_TYPE") == "THREED_COORDS" else 2)
                coords = _node_block(reader, n, width, key)
            elif key == "DISPLAY_DATA_SECTION":
                display = _node_block(reader, n, 2, key)
            elif key == "EDGE_WEIGHT_SECTION":
                fmt = header.get("EDGE_WEIGHT_FORMAT", "")
                if fmt not in EXPLICIT_FORMATS:
                    raise reader.error(f"EDGE_WEIGHT_FORMAT {fmt or '(missing)'!r} is not one of "
                                       f"{', '.join(EXPLICIT_FORMATS)}", header_lines.get("EDGE_WEIGHT_FORMAT"))
                count = explicit_count(fmt, n)
                tokens = reader.tokens(count, key)
                weights = np.array([_number(t, ln, reader, "edge weight") for t, ln in tokens])
            elif key == "FIXED_EDGES_SECTION":
                while reader.pos < len(reader.lines) and reader.lines[reader.pos].strip() != "-1":
                    reader.pos += 1
                reader.pos += 1
            else:
                raise reader.error(f"{key} does not belong in a TSP file", reader.pos)
            continue
        if not sep:
            raise reader.error(f"expected 'KEY: value' or a section name, got {line!r}", reader.pos)
        if key not in KEYWORDS:
            raise reader.error(f"unknown keyword {key!r}", reader.pos)
        header[key] = value.strip()
        header_lines[key] = reader.pos
        kind = (value.split() or [""])[0].upper()  # "TSP (M.~Hofmeister)" names the type, then a credit
        if key == "TYPE" and kind != "TSP":
            kind = value.strip()
            hint = " (asymmetric TSP is not supported)" if kind.upper() == "ATSP" else ""
            raise reader.error(f"TYPE {kind!r} is not a symmetric TSP{hint}", reader.pos)
    return _assemble(path, reader, header, header_lines, coords, display, weights)


def _dimension(header: dict[str, str], header_lines: dict[str, int], reader: _Reader) -> int:
    if "DIMENSION" not in header:
        raise reader.error("section before DIMENSION", reader.pos)
    try:
        n = int(header["DIMENSION"])
    except ValueError:
        raise reader.error(f"DIMENSION {header['DIMENSION']!r} is not an integer", header_lines["DIMENSION"]) from None
    if n < 1:
        raise reader.error(f"DIMENSION must be positive, got {n}", header_lines["DIMENSION"])
    return n


def _assemble(path: Path, reader: _Reader, header: dict[str, str], header_lines: dict[str, int],
              coords: np.ndarray | None, display: np.ndarray | None, weights: np.ndarray | None) -> TsplibInstance:
    if "TYPE" not in header:
        raise TsplibError("missing TYPE (expected 'TYPE: TSP')", path, None)
    n = _dimension(header, header_lines, reader)
    kind = header.get("EDGE_WEIGHT_TYPE", "").upper()
    line = header_lines.get("EDGE_WEIGHT_TYPE")
    if kind == "EXPLICIT":
        if weights is None:
            raise TsplibError("EXPLICIT weights but no EDGE_WEIGHT_SECTION", path, line)
        matrix = explicit_matrix(header["EDGE_WEIGHT_FORMAT"], weights, n)
        if not np.allclose(matrix, matrix.T):
            raise TsplibError("FULL_MATRIX is not symmetric (asymmetric TSP is not supported)", path, line)
        if np.any(matrix < 0):
            raise TsplibError("negative edge weight", path, line)
        distances = np.rint(matrix).astype(np.int64) if np.all(matrix == np.rint(matrix)) else matrix
        np.fill_diagonal(distances, 0)
        metric = Metric.from_matrix(distances)
    elif kind in COORDINATE_TYPES:
        if coords is None:
            raise TsplibError(f"EDGE_WEIGHT_TYPE {kind} needs a NODE_COORD_SECTION", path, line)
        if coords.shape[1] != COORDINATE_TYPES[kind]:
            raise TsplibError(f"{kind} needs {COORDINATE_TYPES[kind]} coordinates per node", path, line)
        metric = Metric(kind, points=coords)
    else:
        raise TsplibError(f"EDGE_WEIGHT_TYPE {kind or '(missing)'!r} is not supported (use one of "
                          f"{', '.join([*COORDINATE_TYPES, 'EXPLICIT'])})", path, line)
    return TsplibInstance(
        name=_instance_name(header, path), dimension=n,
        edge_weight_type=kind, metric=metric, coordinates=coords, display=display,
        edge_weight_format=header.get("EDGE_WEIGHT_FORMAT"), comment=header.get("COMMENT", ""), header=header)


def _instance_name(header: dict[str, str], path: Path) -> str:
    """The NAME field's first word without a ``.tsp`` suffix (some files write ``NAME: ulysses16.tsp``)."""
    words = header.get("NAME", "").split()
    name = words[0] if words else path.stem
    return name[:-4] if name.endswith(".tsp") else name


def read_tour(path: str | Path, dimension: int | None = None) -> np.ndarray:
    """A ``.tour`` file's TOUR_SECTION as 0-based city indices; it must visit each of 1..n exactly once."""
    path = Path(path)
    reader = _Reader(path, read_text(path, TsplibError))
    header: dict[str, str] = {}
    tour: list[int] = []
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
            done = False
            while reader.pos < len(reader.lines) and not done:
                reader.pos += 1
                for token in reader.lines[reader.pos - 1].split():
                    node = _number(token, reader.pos, reader, "node id")
                    if node == -1:
                        done = True
                        break
                    if not node.is_integer() or node < 1:
                        raise reader.error(f"node id {token!r} is not a positive integer", reader.pos)
                    tour.append(int(node))
            if not done:
                raise reader.error("TOUR_SECTION is not terminated by -1")
            continue
        if sep:
            header[key] = value.strip()
            if key == "TYPE" and value.strip().upper() != "TOUR":
                raise reader.error(f"TYPE {value.strip()!r} is not TOUR", reader.pos)
            continue
        raise reader.error(f"expected 'KEY: value' or TOUR_SECTION, got {line!r}", reader.pos)
    n = dimension or int(header.get("DIMENSION", len(tour)) or len(tour))
    if sorted(tour) != list(range(1, n + 1)):
        raise TsplibError(f"the tour does not visit each of the {n} cities exactly once", path, None)
    return np.array(tour, dtype=np.int64) - 1


def write_tour(path: str | Path, name: str, tour: np.ndarray, comment: str = "") -> None:
    """Write ``tour`` (0-based) as a TSPLIB ``.tour`` file."""
    ids = "\n".join(str(int(c) + 1) for c in tour)
    header = f"NAME : {name}.tour\nCOMMENT : {comment}\nTYPE : TOUR\nDIMENSION : {len(tour)}\n"
    Path(path).write_text(f"{header}TOUR_SECTION\n{ids}\n-1\nEOF\n")
