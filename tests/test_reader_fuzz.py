"""Every reader, on any byte sequence, returns a valid instance or raises ParseError/TooLargeError, warning-free.

The slow test gives each of twelve readers 10⁴ generated files: structure-aware mutations of small valid files
(lines dropped, duplicated, swapped or inserted, numbers replaced by huge, NaN, grouped ``1_0``, negative or
non-ASCII values, truncation, CRLF, CR, byte-order marks, UTF-16, Latin-1, trailing blanks), token soups, raw bytes
and damaged ``.npy`` arrays of every dtype. A returned object is checked for what its users rely on, including
that the lengths and costs computed from it are exact (the readers refuse what could not be); an error must be a
one-line message starting with the file's name; any warning fails. ``test_quick`` runs the same on 300 inputs a
reader for runs without the slow tests.
"""

from __future__ import annotations

import io
import math
import os
import random
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hopsolve_assignment.formats import read_cost_matrix, read_qaplib, read_qaplib_solution
from hopsolve_maxcut.rudy import read_graph
from hopsolve_memory.patterns import read_patterns
from hopsolve_qubo.qubo_format import read_qubo
from hopsolve_tsp.tsplib import read_tour, read_tsplib
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from hopsolve import ParseError, TooLargeError

EXAMPLES = 10_000
EXACT = 2**53
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))

NASTY = [
    "0",
    "1",
    "-1",
    "2",
    "3",
    "1_0",
    "1__0",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "-1e308",
    "1e400",
    "1e19",
    "1e200",
    "4e18",
    "9007199254740993",
    "9007199254740992",
    "99999999999999999999",
    "1000000000000",
    "2147483648",
    "-9223372036854775809",
    "0.5",
    "-0.0",
    "+3",
    "1.",
    ".5",
    "5e-324",
    "1e3",
    "\u0663",
    "0x1f",
    "",
    "x",
    "-",
    "1e",
    "1.5.2",
    "00007",
    "-7",
    "181.5",
    "999",
    "90.59",
    "-90.0",
]
CHARS = [*"0123456789 -+.eE_:,#;c\tpx", "nan", "inf", "\u00a0", "\ufeff", "\x0c", "\x00", "\u00e9"]
EDITS = ["drop", "duplicate", "swap", "number", "number", "number", "insert", "pool", "truncate", "join", "blank"]
FORMS = ["plain", "plain", "plain", "crlf", "cr", "bom", "trailing", "utf16", "latin1"]


def _replace_number(line: str, rng: random.Random) -> str:
    tokens = list(re.finditer(r"[^\s,]+", line))
    if not tokens:
        return line
    match = rng.choice(tokens)
    return line[: match.start()] + rng.choice(NASTY) + line[match.end() :]


def mutated(rng: random.Random, seeds: list[str], pool: list[str]) -> bytes:
    """A seed file with one to four line or token edits, then one of several encodings."""
    lines = rng.choice(seeds).split("\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        kind, k = rng.choice(EDITS), rng.randrange(len(lines))
        if kind == "drop":
            del lines[k]
        elif kind == "duplicate":
            lines.insert(k, lines[k])
        elif kind == "swap":
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
        elif kind == "number":
            lines[k] = _replace_number(lines[k], rng)
        elif kind == "insert":
            lines.insert(k, "".join(rng.choices(CHARS, k=rng.randint(0, 20))))
        elif kind == "pool":
            lines.insert(k, rng.choice(pool))
        elif kind == "truncate":
            text = "\n".join(lines)
            lines = text[: rng.randint(0, len(text))].split("\n")
        elif kind == "join" and k + 1 < len(lines):
            lines[k : k + 2] = [lines[k] + " " + lines[k + 1]]
        elif kind == "blank":
            lines.insert(k, rng.choice(["", "   ", "\t"]))
    text = "\n".join(lines)
    form = rng.choice(FORMS)
    if form == "crlf":
        return text.replace("\n", "\r\n").encode()
    if form == "cr":
        return text.replace("\n", "\r").encode()
    if form == "bom":
        return "\ufeff".encode() + text.encode()
    if form == "trailing":
        return "\n".join(line + "  \t" for line in lines).encode()
    if form == "utf16":
        return text.encode("utf-16")
    if form == "latin1":
        return (text + "\u00e9").encode("latin-1", errors="replace")
    return text.encode()


def text_input(seeds: list[str], pool: list[str]):
    """Bytes from a random source: mostly mutated seeds, else token soups, raw bytes or an intact seed."""

    def generate(rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.65:
            return mutated(rng, seeds, pool)
        if roll < 0.8:
            words = rng.choices(pool + NASTY + [" ", "\n", ":", "\n"], k=rng.randint(0, 60))
            return " ".join(words).encode()
        if roll < 0.95:
            return rng.randbytes(rng.randint(0, 120))
        return rng.choice(seeds).encode()

    return generate


def run_reader(read, path: Path, data: bytes, check):
    """Write ``data`` to ``path``, read it with every warning an error, and check whatever comes back."""
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            result = read(path)
        except (ParseError, TooLargeError) as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(f"{path}"), message
            return
        check(result)


def exact_sum(values) -> Fraction:
    return sum((Fraction(float(v)) for v in values), Fraction(0))


def assert_exact(computed: float, values) -> None:
    """``computed`` is the exact sum of ``values`` when they are integers (else within float64 rounding)."""
    values = [float(v) for v in values]
    exact = exact_sum(values)
    if all(v.is_integer() for v in values):
        assert abs(exact) < EXACT and Fraction(computed) == exact, (computed, exact)
    else:
        assert math.isfinite(computed)
        assert abs(Fraction(computed) - exact) <= Fraction(len(values) + 1) * 2**-52 * (exact_sum(map(abs, values)) + 1)


@pytest.fixture
def scratch(tmp_path):
    """A folder for the one file each test rewrites: in memory (/dev/shm) where there is one, 6× faster here."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="hopsolve-fuzz-") as folder:
            yield Path(folder)
    else:
        yield tmp_path


@dataclass(frozen=True)
class Reader:
    """One reader under test: how to read a file, its suffix, how to make inputs, what a result must satisfy."""

    name: str
    read: Callable[[Path], Any]
    suffix: str
    generate: Callable[[random.Random], bytes]
    check: Callable[[Any], None]


def fuzz(readers: list[Reader], folder: Path, examples: int = EXAMPLES) -> dict[str, int]:
    """Run every reader of ``readers`` on ``examples`` inputs of its own, made by its ``generate`` from a random
    source that hypothesis seeds: an example draws one integer, which keeps hypothesis's own cost low, and the
    failing input is shown in full. Returns how many inputs each reader was given."""
    counts = dict.fromkeys((reader.name for reader in readers), 0)

    @settings(FUZZ, max_examples=examples)
    @given(st.integers(0, 2**64 - 1))
    def one(seed: int) -> None:
        for k, reader in enumerate(readers):
            counts[reader.name] += 1
            data = reader.generate(random.Random(seed + k))
            note(f"{reader.name} input bytes: {data!r}")
            run_reader(reader.read, folder / f"fuzz{reader.suffix}", data, reader.check)

    one()
    return counts


# --- TSPLIB -----------------------------------------------------------------------------------------------------

TSP_SEEDS = [
    "NAME: five\nTYPE: TSP\nCOMMENT: seed\nDIMENSION: 5\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n"
    "2 3 4\n3 6 8\n4 1 9\n5 2.5 7.5\nEOF",
    "NAME: geo\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: GEO\nNODE_COORD_SECTION\n1 38.24 20.42\n2 39.57 26.15\n"
    "3 -40.56 -175.12\n4 90.0 0.0\nEOF",
    "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: ATT\nNODE_COORD_SECTION\n1 6734 1453\n2 2233 10\n3 5530 1424\n",
    "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: CEIL_2D\nNODE_COORD_SECTION\n3 1.5 2.5\n1 0 0\n2 -4 7\n",
    "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: MAN_3D\nNODE_COORD_SECTION\n1 0 0 0\n2 1 2 3\n3 -1 5 2\nEOF",
    "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: MAX_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 2\n3 -1 5\nEOF",
    "NAME: full\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: FULL_MATRIX\n"
    "EDGE_WEIGHT_SECTION\n0 2 3\n2 0 4\n3 4 0\nEOF",
    "TYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\nEDGE_WEIGHT_SECTION\n"
    "1 2 3\n4 5\n6\nDISPLAY_DATA_SECTION\n1 0 0\n2 1 1\n3 2 0\n4 5 5\nEOF",
    "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: LOWER_DIAG_ROW\nEDGE_WEIGHT_SECTION\n"
    "0 1.5 0 2 2.25 0\n",
    "TYPE: TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EUC_3D\nNODE_COORD_TYPE: THREED_COORDS\nNODE_COORD_SECTION\n"
    "1 0 0 0\n2 1 1 1\nFIXED_EDGES_SECTION\n-1\nEOF",
    "TYPE: TSP\nDIMENSION: 1\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 5 5\n",
]
TSP_POOL = [
    "DIMENSION: 3",
    "DIMENSION: 1000000000000",
    "TYPE: TSP",
    "TYPE: ATSP",
    "EDGE_WEIGHT_TYPE: GEO",
    "EDGE_WEIGHT_TYPE: EXPLICIT",
    "EDGE_WEIGHT_FORMAT: FULL_MATRIX",
    "EDGE_WEIGHT_FORMAT: UPPER_DIAG_COL",
    "NODE_COORD_SECTION",
    "EDGE_WEIGHT_SECTION",
    "DISPLAY_DATA_SECTION",
    "EOF",
    "COMMENT: again",
    "NODE_COORD_TYPE: THREED_COORDS",
    "FIXED_EDGES_SECTION",
    "-1",
    "TOUR_SECTION",
    "DEMAND_SECTION",
    "1 2 3",
    "4 1e19 0",
    "2 0 0",
    "NAME: x",
    "CAPACITY: 5",
    "EDGE_WEIGHT_TYPE: EUC_2D",
]


def check_tsp(instance) -> None:
    n = instance.dimension
    assert n >= 1 and instance.metric.size == n
    tour = np.arange(n)
    pairs = instance.metric.pairs(tour, np.roll(tour, -1))
    assert (pairs >= 0).all()
    assert_exact(instance.tour_length(tour), pairs)


TOUR_SEEDS = [
    "NAME: t\nTYPE: TOUR\nDIMENSION: 5\nTOUR_SECTION\n1\n3\n2\n5\n4\n-1\nEOF",
    "TOUR_SECTION\n1 2 3 -1\n",
    "COMMENT: a\nCOMMENT: b\nTOUR_SECTION\n2\n1\n-1\n",
]
TOUR_POOL = ["TOUR_SECTION", "-1", "EOF", "DIMENSION: 3", "TYPE: TOUR", "TYPE: TSP", "1 2 3", "4", "1 -1 2"]


def check_tour(tour) -> None:
    assert tour.dtype == np.int64 and len(tour) >= 1
    assert np.array_equal(np.sort(tour), np.arange(len(tour)))


# --- max-cut ------------------------------------------------------------------------------------------------------

RUDY_SEEDS = [
    "4 5\n1 2 1\n1 3 -1\n2 3 2\n2 4 1\n3 4 0.5\n",
    "# a comment\n3 2\nc another\n1 2 7\n2 3 -7\n",
    "3 0\n",
    "2 1\n2 1 1\n",
]
RUDY_POOL = ["1 2 1", "3 3 1", "0 1 1", "1000000000000 1", "1 2", "1 2 3 4", "# x", "c x", "2 1 5"]


def check_graph(graph) -> None:
    assert graph.n >= 1 and len(graph.heads) == len(graph.tails) == len(graph.weights)
    assert ((graph.heads >= 0) & (graph.heads < graph.tails) & (graph.tails < graph.n)).all()
    assert np.isfinite(graph.weights).all()
    sides = np.where(np.arange(graph.n) % 2 == 0, 1, -1)
    assert_exact(graph.cut_weight(sides), graph.weights[sides[graph.heads] != sides[graph.tails]])
    assert_exact(float(graph.weights.sum()), graph.weights)


# --- QUBO ---------------------------------------------------------------------------------------------------------

QUBO_SEEDS = [
    "c seed\np qubo 0 3 2 1\n0 0 1.5\n2 2 -1\n0 1 2\n",
    "p qubo 0 1 0 0\n",
    "p qubo 0 4 1 2\nc in between\n3 3 4\n0 3 -2\n1 2 1\n",
]
QUBO_POOL = ["p qubo 0 0 0 0", "p qubo 0 1000000000000 0 0", "p qubo 0 3 1 1", "0 0 1", "1 2 3", "c x", "p", "2 1 1"]


def check_qubo(model) -> None:
    n = model.num_variables
    assert n >= 1 and model.q.shape == (n, n) and np.isfinite(model.q.data).all()
    assert_exact(model.value(np.ones(n)), model.q.data)


# --- assignment and QAP -------------------------------------------------------------------------------------------

ORLIB_SEEDS = ["3\n1 2 3\n4 5 6\n7 8 9\n", "2\n 1.5 -2\n 3\n 4\n", "1\n7\n"]
ORLIB_POOL = ["3", "1 2 3", "1000000000000", "0", "4e18 1 1"]


def check_costs(matrix) -> None:
    n = matrix.shape[0]
    assert matrix.dtype == np.float64 and matrix.shape == (n, n) and n >= 1 and np.isfinite(matrix).all()
    diagonal = matrix[np.arange(n), np.arange(n)]
    assert_exact(float(diagonal.sum()), diagonal)


CSV_SEEDS = ["1,2\n3,4\n", "1.5, 2, 0\n\n3,4,5\n-6,7,8\n", "7\n"]
CSV_POOL = ["1,2", "1,,2", "a,b", "1;2", "1,2,3", ",", "nan,1"]


QAP_SEEDS = ["2\n\n0 1\n1 0\n\n0 5\n5 0\n", "3\n0 1 2 1 0 3 2 3 0\n0 4 5\n4 0 6\n5 6 0\n", "1\n0\n0\n"]
QAP_POOL = ["2", "0 1", "1000000000000", "4e18 4e18"]


def check_qap(matrices) -> None:
    flow, distance = matrices
    n = flow.shape[0]
    assert flow.shape == distance.shape == (n, n) and n >= 1
    assert np.isfinite(flow).all() and np.isfinite(distance).all()
    products = (flow * distance).ravel()  # the identity permutation's cost
    assert_exact(float(products.sum()), products)


SLN_SEEDS = ["3 10\n2 3 1\n", "4 1.5e3\n 1 2\n 3 4\n", "1 0\n1\n"]
SLN_POOL = ["3 10", "1 2 3", "2 2", "1000000000000 5"]


def check_solution(solution) -> None:
    n, cost, perm = solution
    assert n >= 1 and math.isfinite(cost) and abs(cost) < EXACT
    assert np.array_equal(np.sort(perm), np.arange(n))


# --- .npy (cost matrices and patterns) ----------------------------------------------------------------------------

DTYPES = ["|b1", "|i1", "<i8", ">i4", "<u8", "<f2", "<f4", "<f8", ">f8", "<c16", "<U2", "|O", "|V8"]
VALUES = [0, 1, -1, 2, 0.5, np.nan, np.inf, -np.inf, 1e308, 2**53 + 1, 2**63 - 1, -(2**63), 4e18]


def npy_input(rng: random.Random) -> bytes:
    """A ``.npy`` file of any dtype, shape and awkward values, often damaged (truncated, a byte changed, bytes
    appended, its header edited, or an ``.npz`` archive instead); sometimes raw bytes."""
    if rng.random() < 0.15:
        return (b"\x93NUMPY\x01\x00" if rng.random() < 0.5 else b"") + rng.randbytes(rng.randint(0, 160))
    dtype = np.dtype(rng.choice(DTYPES))
    shape = tuple(rng.randint(0, 4) for _ in range(rng.randint(0, 3)))
    values = rng.choices(VALUES, k=math.prod(shape))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # casting NaN or 1e308 to an integer dtype: any garbage will do
        try:
            array = np.array(values, dtype=np.float64).astype(dtype).reshape(shape)
        except (ValueError, TypeError):
            array = np.zeros(shape, dtype=dtype)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    data = buffer.getvalue()
    edit = rng.choice(["none", "none", "truncate", "flip", "append", "header", "npz"])
    if edit == "truncate":
        data = data[: rng.randint(0, len(data))]
    elif edit == "flip":
        k = rng.randrange(len(data))
        data = data[:k] + bytes([rng.randrange(256)]) + data[k + 1 :]
    elif edit == "append":
        data += rng.randbytes(rng.randint(1, 16))
    elif edit == "header":
        old = rng.choice([b"'descr'", b"(", b")", b"False", b"'shape'", b"}", b"<", b":"])
        new = rng.choice([b"", b"(10000000000000, 10000000000000", b"'<c16'", b"\x00", b"(-1,", b"[[[["])
        data = data.replace(old, new, 1)
    elif edit == "npz":
        buffer = io.BytesIO()
        np.savez(buffer, a=np.zeros(shape))
        data = buffer.getvalue()
    return data


def check_patterns(patterns) -> None:
    xi = patterns.patterns
    assert xi.dtype == np.int8 and xi.ndim == 2 and xi.size > 0 and np.isin(xi, (-1, 1)).all()
    if patterns.shape is not None:
        assert patterns.shape[0] * patterns.shape[1] == xi.shape[1]


# --- pattern grids ------------------------------------------------------------------------------------------------

GRID_SEEDS = ["#.\n.#\n\n##\n..\n", "; letters\n#.#\n.#.\n#.#\n\n\n...\n###\n...\n", "#\n"]
GRID_POOL = ["#.", "##", "", "; c", "#.#", "x", ". #"]


# --- the tests ------------------------------------------------------------------------------------------------

READERS = [
    Reader("tsplib problem", read_tsplib, ".tsp", text_input(TSP_SEEDS, TSP_POOL), check_tsp),
    Reader("tsplib tour", read_tour, ".tour", text_input(TOUR_SEEDS, TOUR_POOL), check_tour),
    Reader("rudy/Gset", read_graph, ".txt", text_input(RUDY_SEEDS, RUDY_POOL), check_graph),
    Reader("edge list", read_graph, ".edges", text_input(RUDY_SEEDS, RUDY_POOL), check_graph),
    Reader("qubo", read_qubo, ".qubo", text_input(QUBO_SEEDS, QUBO_POOL), check_qubo),
    Reader("OR-Library", read_cost_matrix, ".txt", text_input(ORLIB_SEEDS, ORLIB_POOL), check_costs),
    Reader("csv", read_cost_matrix, ".csv", text_input(CSV_SEEDS, CSV_POOL), check_costs),
    Reader("QAPLIB .dat", read_qaplib, ".dat", text_input(QAP_SEEDS, QAP_POOL), check_qap),
    Reader("QAPLIB .sln", read_qaplib_solution, ".sln", text_input(SLN_SEEDS, SLN_POOL), check_solution),
    Reader("npy cost matrix", read_cost_matrix, ".npy", npy_input, check_costs),
    Reader("npy patterns", read_patterns, ".npy", npy_input, check_patterns),
    Reader("pattern grid", read_patterns, ".patterns", text_input(GRID_SEEDS, GRID_POOL), check_patterns),
]


@pytest.mark.slow
def test_every_reader_on_ten_thousand_inputs(scratch):
    """10⁴ hypothesis examples, each giving every reader an input of its own (one hypothesis run for all twelve:
    its cost per example, ~1 ms here, would otherwise be most of the time)."""
    counts = fuzz(READERS, scratch)
    assert min(counts.values()) >= EXAMPLES, counts


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_quick(reader, scratch):
    """The same property on 300 inputs a reader, for runs without the slow tests."""
    assert fuzz([reader], scratch, examples=300)[reader.name] >= 300


@pytest.mark.parametrize("descr", ["<a8", "|S4", "<U2"])
@pytest.mark.parametrize("read", [read_cost_matrix, read_patterns], ids=["costs", "patterns"])
def test_an_npy_of_bytes_or_text_is_one_parse_error_even_under_deprecation_errors(descr, read, tmp_path):
    # numpy warns that the '<a8' alias is deprecated while reading the header: found by the fuzz test above (a
    # DeprecationWarning that escaped as an exception under -W error), now ignored and the array refused by kind
    path = tmp_path / "x.npy"
    with path.open("wb") as handle:  # the header (magic string included), no data: shape (0, 0)
        np.lib.format.write_array_header_1_0(handle, {"descr": descr, "fortran_order": False, "shape": (0, 0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ParseError, match="expected real numbers"):
            read(path)
