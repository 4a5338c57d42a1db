"""The .qubo parser: a corpus of malformed files (one line, exit 2) and property tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hopsolve_qubo.qubo_format import QuboModel, read_qubo, write_qubo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hopsolve import ParseError, TooLargeError, UserError

from .conftest import DATA

MALFORMED = sorted((DATA / "malformed" / "qubo").glob("*.qubo"))


def test_corpus_is_not_empty():
    assert len(MALFORMED) >= 15


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_malformed_file_is_one_line_and_exit_2(cli, path: Path):
    run = cli("solve", path, "--backend", "exact")
    assert run.code == 2
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert str(path) in lines[0]
    assert "Traceback" not in run.err


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_malformed_file_names_a_line(path: Path):
    with pytest.raises((ParseError, TooLargeError)) as info:  # 10^12 variables are too many, not malformed
        read_qubo(path)
    if path.stem != "empty":
        assert info.value.line is not None


@given(st.text(alphabet="pcqubo 0123456789.-e\n\tx", max_size=200))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parser_raises_only_its_own_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "f.qubo"
    path.write_text(text)
    try:
        model = read_qubo(path)
    except ParseError:
        return
    assert model.q.shape[0] == model.q.shape[1]


@given(st.integers(1, 12), st.integers(0, 1000), st.floats(0.0, 1.0))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_write_then_read_round_trips(tmp_path_factory, n, seed, density):
    rng = np.random.default_rng(seed)
    q = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < density))
    path = tmp_path_factory.mktemp("rt") / "m.qubo"
    write_qubo(QuboModel(sp.csr_matrix(q)), path)
    np.testing.assert_array_equal(read_qubo(path).q.toarray(), q)


def test_a_model_built_in_memory_writes_its_lower_triangle_folded_and_its_offset_as_a_comment(tmp_path):
    q = np.array([[1.0, 2.0, 0.0], [-4.0, 0.0, 0.5], [3.0, 0.0, -1.0]])
    model = QuboModel(sp.csr_matrix(q), offset=2.5)
    write_qubo(model, tmp_path / "m.qubo")
    assert "c offset 2.5" in (tmp_path / "m.qubo").read_text()
    back = read_qubo(tmp_path / "m.qubo")
    for bits in np.ndindex(2, 2, 2):
        assert back.value(np.array(bits)) == pytest.approx(model.value(np.array(bits)) - 2.5)


def test_user_errors_are_one_line(cli, tmp_path):
    good = tmp_path / "ok.qubo"
    good.write_text("p qubo 0 2 1 1\n0 0 -1\n0 1 2\n")
    cases = [
        (["solve", tmp_path / "missing.qubo"], "no such file"),
        (["solve", good, "--backend", "nosuch"], "unknown backend 'nosuch'; available:"),
        (["solve", good, "--backend", "exact", "--param", "bogus=1"], "unknown parameter 'bogus'"),
        (["solve", good, "--backend", "exact", "--param", "max_states=-1"], "max_states"),
        (["solve", good, "--backend", "exact", "--param", "max_states"], "key=value"),
        (["solve", good, "--backend", "exact", "--weight", "nope=2"], "unknown weight 'nope'"),
        (["solve", good, "--problem", "nosuch"], "unknown problem 'nosuch'"),
        (["solve", tmp_path / "x.unknown"], "no such file"),
        (["solve", good, "--seed", "-4", "--backend", "exact"], "seed"),
        (["frobnicate"], "invalid choice"),
    ]
    for args, message in cases:
        run = cli(*args)
        assert run.code == 2, (args, run.err)
        assert len(run.err.strip().splitlines()) == 1, run.err
        assert message in run.err, (message, run.err)


def test_json_contract_keys(cli, tmp_path):
    path = tmp_path / "ok.qubo"
    path.write_text("c tiny\np qubo 0 2 2 1\n0 0 -1\n1 1 -1\n0 1 3\n")
    result = json.loads(cli("solve", path, "--backend", "exact", "--json", "--seed", "5").out)
    for key in ("problem", "instance", "solver", "kind", "params", "seed", "status", "feasible", "objective",
                "reference", "gap", "energy", "wall_time_s", "violations", "solution"):
        assert key in result
    assert result["kind"] == "backend" and result["seed"] == 5 and result["problem"] == "qubo"
    assert result["objective"] == -1 and result["solution"] in ([1, 0], [0, 1])
    assert result["gap"] is None and result["reference"] is None


def test_user_error_string_names_file_and_line():
    assert str(UserError("bad", "f.txt", 3)) == "f.txt:3: bad"
