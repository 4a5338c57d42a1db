"""The numpy fast paths of the Gset/rudy and OR-Library readers give what the line-by-line readers give, and step
aside (so that the line-by-line reader names the line) on anything unusual."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hopsolve_maxcut import rudy
from hypothesis import given, settings
from hypothesis import strategies as st

from hopsolve.errors import ParseError

WEIGHT_TEXT = st.one_of(st.integers(-10**6, 10**6).map(str),
                        st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.6g}"),
                        st.sampled_from(["0.5", "-.25", "3.", "1e3", "+2", "-7E-2"]))


@st.composite
def rudy_texts(draw):
    n = draw(st.integers(2, 12))
    pairs = draw(st.lists(st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda p: p[0] != p[1])
                          .map(lambda p: (min(p), max(p))), unique=True, max_size=n * (n - 1) // 2))
    lines = []
    for i, j in pairs:
        a, b = (i, j) if draw(st.booleans()) else (j, i)
        sep = draw(st.sampled_from([" ", "  ", "\t"]))
        lines.append(f"{a}{sep}{b}{sep}{draw(WEIGHT_TEXT)}")
    ending = draw(st.sampled_from(["\n", ""]))
    return f"{n} {len(pairs)}\n" + "\n".join(lines) + (ending if lines else "")


def _slow(path: Path) -> rudy.Graph:
    text = path.read_text()
    original = rudy._fast_rudy
    try:
        rudy._fast_rudy = lambda *_: None
        return rudy.read_graph(path)
    finally:
        rudy._fast_rudy = original
        assert path.read_text() == text


@settings(max_examples=200, deadline=None)
@given(text=rudy_texts())
def test_the_fast_path_reads_what_the_line_reader_reads(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("rudy") / "g.txt"
    path.write_text(text)
    fast = rudy._fast_rudy(text, path)
    assert fast is not None
    slow = _slow(path)
    assert fast.n == slow.n
    np.testing.assert_array_equal(fast.heads, slow.heads)
    np.testing.assert_array_equal(fast.tails, slow.tails)
    np.testing.assert_array_equal(fast.weights, slow.weights)


@pytest.mark.parametrize("text", [
    "3 2\n1 2 1\n# comment\n2 3 1\n",  # a comment
    "3 2\n1 2 1\n\n2 3 1\n",  # a blank line
    "3 2\n1 2 1\n2 3\n",  # a short line
    "3 2\n1 2 1 2\n2 3\n",  # tokens shifted between lines
    "3 2\n1 2 1\n2 2 1\n",  # a self-loop
    "3 2\n1 2 1\n2 1 1\n",  # a duplicate
    "3 2\n1 2 1\n2 4 1\n",  # a node out of range
    "3 2\n1 2 1\n2 3 1_0\n",  # an underscore
    "3 2\n1 2 1\n2 3 1-2\n",  # not a number
    "3 2\n1.5 2 1\n2 3 1\n",  # a fractional id
    "3 1\n1 2 1\n2 3 1\n",  # more lines than announced
])
def test_the_fast_path_steps_aside_and_the_line_reader_names_the_line(text, tmp_path):
    path = tmp_path / "g.txt"
    path.write_text(text)
    assert rudy._fast_rudy(text, path) is None
    # comments and blank lines are allowed: the line reader takes them
    _the_line_reader_takes_it_or_names_the_line(rudy.read_graph, path, "#" in text or "\n\n" in text)


def _the_line_reader_takes_it_or_names_the_line(reader, path: Path, allowed: bool) -> None:
    """What a fast path stepped aside from: read by ``reader`` if ``allowed``, else refused with a ParseError
    naming the file and a line."""
    if allowed:
        reader(path)
        return
    with pytest.raises(ParseError) as caught:
        reader(path)
    assert str(path) in str(caught.value) and caught.value.line is not None


@st.composite
def orlib_texts(draw):
    n = draw(st.integers(1, 6))
    costs = [draw(WEIGHT_TEXT) for _ in range(n * n)]
    per_line = draw(st.integers(1, max(1, n * n)))
    lines = [" ".join(costs[k:k + per_line]) for k in range(0, n * n, per_line)]
    return f"{n}\n" + "\n".join(lines) + draw(st.sampled_from(["\n", "", "  \n"]))


@settings(max_examples=150, deadline=None)
@given(text=orlib_texts())
def test_the_orlib_fast_path_reads_what_the_token_reader_reads(text, tmp_path_factory):
    from hopsolve_assignment import formats

    path = tmp_path_factory.mktemp("orlib") / "a.txt"
    path.write_text(text)
    fast = formats._plain_matrix(path)
    assert fast is not None
    original = formats._plain_matrix
    try:
        formats._plain_matrix = lambda _: None
        slow = formats.read_cost_matrix(path)
    finally:
        formats._plain_matrix = original
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("text", ["2\n1 2\n3\n", "2\n1 2 3 4 5\n", "2\n1 2\n3 1_0\n", "2.0\n1 2\n3 4\n",
                                  "2\n1 2\n3 nan\n", "2\n1 2\n3 1e999\n", "2\n1 2 # c\n3 4\n"])
def test_the_orlib_fast_path_steps_aside_and_the_token_reader_names_the_line(text, tmp_path):
    from hopsolve_assignment import formats

    path = tmp_path / "a.txt"
    path.write_text(text)
    assert formats._plain_matrix(path) is None
    with pytest.raises(ParseError) as caught:
        formats.read_cost_matrix(path)
    assert str(path) in str(caught.value)


COORD_TEXT = st.one_of(st.integers(-10**7, 10**7).map(str), st.integers(-200, 200).map(str),
                       st.floats(-1e7, 1e7, allow_nan=False).map(lambda x: f"{x:.8g}"),
                       st.sampled_from(["0.5", "-.25", "3.", "1e3", "+2", "-7E-2", "1e400", "1-2", "1_0", "x"]))


@st.composite
def node_sections(draw):
    """A TSPLIB file whose NODE_COORD_SECTION has its ids in any order, and now and then something unusual: a
    blank line, a repeated or fractional id, a short line, a number that is not one or is out of range."""
    n = draw(st.integers(1, 10))
    ids = draw(st.permutations(range(1, n + 1)))
    rows = []
    for node in ids:
        shown = draw(st.sampled_from([str(node), str(node), f"{node}.0", f"{node}.5", str(ids[0])]))
        coords = [draw(COORD_TEXT) for _ in range(draw(st.sampled_from([2, 2, 2, 1, 3])))]
        rows.append(" ".join([shown, *coords]))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), "")
    kind = draw(st.sampled_from(["EUC_2D", "GEO", "ATT", "CEIL_2D"]))  # GEO's range errors name a node's line
    return (f"NAME: t\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: {kind}\nNODE_COORD_SECTION\n"
            + "\n".join(rows) + "\nEOF\n")


def _fast_and_slow(module, fast_path: str, reader, path: Path):
    """``reader(path)`` with ``module``'s fast path ``fast_path`` in place and with it swapped for one that always
    steps aside: each result as returned, or the ParseError's message."""

    def read(fast: bool):
        original = getattr(module, fast_path)
        if not fast:
            setattr(module, fast_path, lambda *_: None)
        try:
            return reader(path)
        except ParseError as error:
            return str(error)
        finally:
            setattr(module, fast_path, original)

    return read(True), read(False)


def _tsplib_fast_and_slow(text: str, directory: Path, fast_path: str):
    """``text`` read by the TSPLIB reader with its fast path ``fast_path`` and with it turned off."""
    from hopsolve_tsp import tsplib

    path = directory / "t.tsp"
    path.write_text(text)
    return _fast_and_slow(tsplib, fast_path, tsplib.read_tsplib, path)


@settings(max_examples=300, deadline=None)
@given(text=node_sections())
def test_the_tsplib_node_fast_path_reads_what_the_line_reader_reads(text, tmp_path_factory):
    fast, slow = _tsplib_fast_and_slow(text, tmp_path_factory.mktemp("tsp"), "_plain_node_block")
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert not isinstance(fast, str)
        np.testing.assert_array_equal(fast.coordinates, slow.coordinates)
        assert fast.dimension == slow.dimension


WEIGHT_TOKEN = st.one_of(st.integers(0, 10**6).map(str), st.integers(0, 10**6).map(str),
                         st.sampled_from(["1.5", "-3", "1e3", "1e400", "1_0", "x", "nan"]))


@st.composite
def explicit_files(draw):
    """A TSPLIB EXPLICIT file whose weights wrap at any width, now and then with one token too many or too few, a
    blank line, or a token that is not a plain number."""
    from hopsolve_tsp.tsplib import explicit_count

    n = draw(st.integers(1, 6))
    fmt = draw(st.sampled_from(["FULL_MATRIX", "UPPER_ROW", "LOWER_DIAG_ROW", "UPPER_DIAG_COL"]))
    count = explicit_count(fmt, n) + draw(st.sampled_from([0, 0, 0, 1, -1]))
    tokens = [draw(WEIGHT_TOKEN) for _ in range(max(count, 0))]
    width = draw(st.integers(1, 7))
    lines = [" ".join(tokens[k:k + width]) for k in range(0, len(tokens), width)]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "")
    return (f"NAME: t\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: {fmt}\n"
            "EDGE_WEIGHT_SECTION\n" + "\n".join(lines) + "\nEOF\n")


@settings(max_examples=300, deadline=None)
@given(text=explicit_files())
def test_the_tsplib_weight_fast_path_reads_what_the_token_reader_reads(text, tmp_path_factory):
    fast, slow = _tsplib_fast_and_slow(text, tmp_path_factory.mktemp("tsp"), "_plain_weights")
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert not isinstance(fast, str)
        np.testing.assert_array_equal(fast.distances, slow.distances)


QUBO_VALUE = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(-1e6, 1e6, allow_nan=False).map(repr),
                       st.sampled_from(["0.5", "-.25", "3.", "1e3", "+2", "-7E-2", "1e400", "1-2", "1_0", "x", "nan"]))


@st.composite
def qubo_texts(draw):
    """A ``.qubo`` file, now and then with something unusual: comments (before or after the header), a blank line,
    an index out of range or fractional, a diagonal entry among the couplers, a duplicate, a line with a token too
    many or too few, a value that is not a plain number, a count the header gets wrong."""
    n = draw(st.integers(1, 8))
    diagonal = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
                          .map(lambda p: (min(p), max(p))), unique=True, max_size=n * (n - 1) // 2))
    entries = [[str(i), str(i), draw(QUBO_VALUE)] for i in diagonal]
    for i, j in pairs:
        a, b = (i, j) if draw(st.booleans()) else (j, i)
        entries.append([str(a), str(b), draw(QUBO_VALUE)])
    n_diag, n_elements = len(diagonal), len(pairs)
    if entries and draw(st.integers(0, 4)) == 0:  # one defect in an entry
        k = draw(st.integers(0, len(entries) - 1))
        entries[k] = draw(st.sampled_from([
            [entries[k][0], str(n), entries[k][2]], [f"{entries[k][0]}.5", *entries[k][1:]],
            [entries[k][0], entries[k][0], entries[k][2]], list(entries[0]), entries[k][:2], [*entries[k], "1"],
            ["-1", *entries[k][1:]]]))
    if draw(st.integers(0, 5)) == 0:
        n_elements += draw(st.sampled_from([1, -1])) if n_elements else 1
    lines = [" ".join(entry) for entry in entries]
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "c a comment", "  "])))
    head = draw(st.sampled_from([[], ["c made by a test"], ["c one", "", "c two"]]))
    return "\n".join([*head, f"p qubo 0 {n} {n_diag} {n_elements}", *lines]) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=400, deadline=None)
@given(text=qubo_texts())
def test_the_qubo_fast_path_reads_what_the_line_reader_reads(text, tmp_path_factory):
    """The same matrix, or the same one-line error naming the file and line (the fast path steps aside on anything
    unusual and the line reader names it)."""
    from hopsolve_qubo import qubo_format

    path = tmp_path_factory.mktemp("qubo") / "q.qubo"
    path.write_text(text)
    fast, slow = _fast_and_slow(qubo_format, "_fast_qubo", qubo_format.read_qubo, path)
    if isinstance(slow, str):
        assert fast == slow and str(path) in slow
    else:
        assert not isinstance(fast, str)
        assert (fast.q != slow.q).nnz == 0 and fast.q.shape == slow.q.shape
        np.testing.assert_array_equal(fast.q.indptr, slow.q.indptr)
        np.testing.assert_array_equal(fast.q.indices, slow.q.indices)
        np.testing.assert_array_equal(fast.q.data, slow.q.data)


def test_the_qubo_fast_path_takes_plain_files():
    from hopsolve_qubo import qubo_format

    text = "c a comment\np qubo 0 3 2 2\n0 0 1.5\n2 2 -1\n0 1 2\n2 1 -0.25\n"
    model = qubo_format._fast_qubo(text, Path("q.qubo"))
    assert model is not None
    np.testing.assert_array_equal(model.q.toarray(), [[1.5, 2, 0], [0, 0, -0.25], [0, 0, -1]])
    assert qubo_format._fast_qubo(text.replace("0 1 2\n", "0 1 2\nc late comment\n"), Path("q.qubo")) is None


@pytest.mark.parametrize("text", [
    "p qubo 0 3 1 2\n0 0 1\n0 1 2\nc late comment\n1 2 3\n",  # a comment after the header
    "p qubo 0 3 1 2\n0 0 1\n0 1 2\n2 1 3\n1 2 4\n",  # a duplicate (either order), one line too many
    "p qubo 0 3 1 2\n0 0 1\n0 1 2\n1 0 3\n",  # a duplicate in the other order
    "p qubo 0 3 1 2\n0 0 1\n0 1 2\n1 1 3\n",  # a diagonal entry among the couplers
    "p qubo 0 3 2 1\n0 0 1\n0 1 2\n1 1 3\n",  # a coupler among the diagonal entries
    "p qubo 0 3 1 2\n0 0 1\n0 3 2\n1 2 3\n",  # an index out of range
    "p qubo 0 3 1 2\n0 0 1\n0 1.0 2\n1 2 3\n",  # a fractional index
    "p qubo 0 3 1 2\n0 0 1\n0 1 1_0\n1 2 3\n",  # an underscore
    "p qubo 0 3 1 2\n0 0 1\n0 1 nan\n1 2 3\n",  # not finite
    "p qubo 0 3 1 2\n0 0 1\n0 1 1e400\n1 2 3\n",  # out of range
    "p qubo 0 3 1 2\n0 0 1\n0 1\n1 2 3\n",  # a short line
    "p qubo 0 3 1 3\n0 0 1\n0 1 2\n1 2 3\n",  # fewer lines than announced
    "p qubo 0 3 1 2\n0 0 1\n0 1 9.1e15\n1 2 3\n",  # a sum past 2^53
])
def test_the_qubo_fast_path_steps_aside_and_the_line_reader_names_the_line(text, tmp_path):
    from hopsolve_qubo import qubo_format

    path = tmp_path / "q.qubo"
    path.write_text(text)
    assert qubo_format._fast_qubo(text, path) is None
    # comments are allowed anywhere: the line reader takes them
    _the_line_reader_takes_it_or_names_the_line(qubo_format.read_qubo, path, "c late" in text)


@st.composite
def edge_lists(draw):
    """An ``.edges`` file (``i j [w]`` lines, 1-based, no header), now and then with something unusual: a comment or
    blank line, weights on some lines only, a node 0 or fractional, a self-loop, a duplicate, a bad weight."""
    n = draw(st.integers(2, 10))
    pairs = draw(st.lists(st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda p: p[0] != p[1])
                          .map(lambda p: (min(p), max(p))), unique=True, min_size=1, max_size=n * (n - 1) // 2))
    weighted = draw(st.booleans())
    lines = []
    for i, j in pairs:
        a, b = (i, j) if draw(st.booleans()) else (j, i)
        lines.append([str(a), str(b), draw(WEIGHT_TEXT)] if weighted else [str(a), str(b)])
    if draw(st.integers(0, 3)) == 0:  # one defect
        k = draw(st.integers(0, len(lines) - 1))
        lines[k] = draw(st.sampled_from([
            [lines[k][0], lines[k][0], *lines[k][2:]], ["0", *lines[k][1:]], [f"{lines[k][0]}.5", *lines[k][1:]],
            list(lines[0]), lines[k][:2] if weighted else [*lines[k], "2"], [*lines[k][:2], "1_0"],
            [*lines[k][:2], "nan"], [*lines[k][:2], "1e400"]]))
    text = [" ".join(line) for line in lines]
    if draw(st.integers(0, 4)) == 0:
        text.insert(draw(st.integers(0, len(text))), draw(st.sampled_from(["", "# a comment", "c a comment"])))
    return "\n".join(text) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=300, deadline=None)
@given(text=edge_lists())
def test_the_edge_list_fast_path_reads_what_the_line_reader_reads(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("edges") / "g.edges"
    path.write_text(text)
    fast, slow = _fast_and_slow(rudy, "_fast_edges", rudy.read_graph, path)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert not isinstance(fast, str) and fast.n == slow.n
        np.testing.assert_array_equal(fast.heads, slow.heads)
        np.testing.assert_array_equal(fast.tails, slow.tails)
        np.testing.assert_array_equal(fast.weights, slow.weights)


@pytest.mark.parametrize("text", ["1 2\n2 3 1\n", "1 2\n2 2\n", "1 2\n2 1\n", "0 2\n", "1 2\n# c\n2 3\n",
                                  "1 2 1\n2 3 1_0\n", "1.0 2\n"])
def test_the_edge_list_fast_path_steps_aside(text, tmp_path):
    path = tmp_path / "g.edges"
    path.write_text(text)
    assert rudy._fast_edges(text, path) is None
    assert rudy._fast_edges("1 2\n2 3\n", path) is not None and rudy._fast_edges("1 2 0.5\n2 3 -1\n", path) is not None
