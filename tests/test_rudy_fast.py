"""The Gset/rudy reader's numpy fast path gives the same graph as the line-by-line reader, and steps aside (so
that the line-by-line reader names the line) on anything unusual."""

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
    if "#" in text or "\n\n" in text:
        rudy.read_graph(path)  # comments and blank lines are allowed: the line reader takes them
        return
    with pytest.raises(ParseError) as caught:
        rudy.read_graph(path)
    assert str(path) in str(caught.value) and caught.value.line is not None
