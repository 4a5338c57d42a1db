"""The malformed-input corpus and command-line misuse: every case one line on stderr, exit code 2, no traceback.

``tests/data/malformed/EXPECTED.csv`` lists every file of the corpus with the command that reads it and the line
and message fragment its error must name; ``COMMANDS.csv`` lists command lines a user could get wrong. Cases whose
fix lies outside the readers are marked there with the reason, and run as strict expected failures.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import warnings
from pathlib import Path

import pytest
from hopsolve_assignment.formats import read_qaplib_solution
from hopsolve_tsp.tsplib import read_tour

from hopsolve import ParseError

from .conftest import DATA, INSTANCES

CORPUS = DATA / "malformed"
MINIMUM_CORPUS = 300


def _rows(name: str) -> list[dict[str, str]]:
    with (CORPUS / name).open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


FILES = _rows("EXPECTED.csv")
COMMANDS = _rows("COMMANDS.csv")
PYTHON_READERS = {"read_tour": read_tour, "read_qaplib_solution": read_qaplib_solution}


def _arguments(command: str, path: Path) -> list[str]:
    """The ``hopsolve`` arguments that read ``path`` for a manifest ``command``."""
    if command.startswith("solve:"):
        return ["solve", str(path), "--problem", command.removeprefix("solve:")]
    if command == "cue":
        return ["solve", str(INSTANCES / "memory" / "cross.patterns"), "--option", f"cue={path}"]
    if command == "recall-pinv":
        return ["recall", str(path), str(path), "--rule", "pinv"]
    raise AssertionError(f"unknown command {command!r} in EXPECTED.csv")


def _quiet(cli, arguments: list[str]):
    """Run the CLI in-process, failing on any RuntimeWarning it lets escape (pytest would only record it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = cli(*arguments)
    escaped = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not escaped, escaped
    return run


def _where(path: Path, line: str) -> str:
    """What the message starts with: the file, then its line when the manifest names one."""
    return f"{path}:{line}: " if line else f"{path}: "


def test_the_corpus_is_complete_and_large_enough():
    listed = {row["file"] for row in FILES}
    present = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.parent != CORPUS and p.parent.name != "commands"
    }
    assert listed == present, {"not listed": sorted(present - listed), "missing": sorted(listed - present)}
    assert len(present) >= MINIMUM_CORPUS
    assert all(row["expected"] for row in FILES)


def _cases(rows: list[dict[str, str]], key: str) -> list:
    """Manifest rows as test cases; a row with an ``xfail`` reason (its fix lies outside the readers) is a strict
    expected failure, so the test reports when it is fixed."""
    return [
        pytest.param(
            row, id=row[key], marks=[pytest.mark.xfail(strict=True, reason=row["xfail"])] if row["xfail"] else []
        )
        for row in rows
    ]


@pytest.mark.parametrize("row", _cases(FILES, "file"))
def test_malformed_file_is_one_line_naming_it(row, cli):
    path = CORPUS / row["file"]
    if row["command"] in PYTHON_READERS:  # tours and QAPLIB solutions have no command of their own
        with pytest.raises(ParseError) as info:
            PYTHON_READERS[row["command"]](path)
        message = f"hopsolve: error: {info.value}"
    else:
        run = _quiet(cli, _arguments(row["command"], path))
        assert run.code == 2, (run.code, run.err)
        assert "Traceback" not in run.err
        lines = run.err.splitlines()
        assert len(lines) == 1, run.err
        message = lines[0]
    assert message.startswith(f"hopsolve: error: {_where(path, row['line'])}"), message
    assert row["expected"] in message, message


# --- command lines ---------------------------------------------------------------------------------------------


def _command(row: dict[str, str], tmp_path: Path) -> list[str]:
    text = row["args"].format(instances=INSTANCES, corpus=CORPUS, tmp=tmp_path)
    return shlex.split(text)


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("row", _cases(COMMANDS, "name"))
def test_command_line_misuse_is_one_line_and_exit_2(row, cli, tmp_path, monkeypatch):
    """A misused command exits 2 with one line naming what is wrong, before any work, and writes nothing; or, for
    the ``json-or-error`` cases, prints strict JSON (no NaN or Infinity) and no warning."""
    for assignment in filter(None, row["env"].split()):
        key, _, value = assignment.partition("=")
        monkeypatch.setenv(key, value)
    run = _quiet(cli, _command(row, tmp_path))
    assert "Traceback" not in run.err, run.err
    if row["kind"] == "json-or-error" and run.code == 0:
        result = _strict_json(run.out)
        assert all(math.isfinite(v) for v in _numbers(result))
        return
    assert run.code == 2, (run.code, run.err[-500:])
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert row["expected"] in lines[0], lines[0]
    assert not list(tmp_path.iterdir()), "a refused command wrote files"


def _numbers(value: object):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


# --- valid but odd inputs ----------------------------------------------------------------------------------------

TSP_HEADER = "NAME: odd\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
ODD = [
    pytest.param(
        "odd.tsp",
        TSP_HEADER.format(n=1) + "1 5 5\n",
        ["--backend", "exact"],
        0.0,
        id="tsp-1-city",
    ),
    pytest.param(
        "odd.tsp",
        TSP_HEADER.format(n=2) + "1 0 0\n2 3 4\n",
        ["--backend", "exact"],
        10.0,
        id="tsp-2-cities",
    ),
    pytest.param("odd.tsp", TSP_HEADER.format(n=1) + "1 5 5\n", [], 0.0, id="tsp-1-city-default"),
    pytest.param("odd.tsp", TSP_HEADER.format(n=2) + "1 0 0\n2 3 4\n", [], 10.0, id="tsp-2-cities-default"),
    *(pytest.param("odd.tsp", TSP_HEADER.format(n=n) + "1 0 0\n2 3 4\n"[: 6 * n], ["--baseline", baseline], length,
                   id=f"tsp-{n}-cities-{baseline}")
      for n, length in ((1, 0.0), (2, 10.0))
      for baseline in ("ortools-cpsat", "ortools-routing", "networkx-christofides", "networkx-greedy")),
    pytest.param(
        "odd.tsp",
        TSP_HEADER.format(n=2) + "1 0 0\n2 3 4\n",
        ["--baseline", "ortools-cpsat"],
        10.0,
        id="tsp-2-cities-cpsat",
    ),
    pytest.param(
        "odd.tsp",
        "\ufeff" + TSP_HEADER.format(n=4).replace("\n", "  \r\n") + "1 0 0\r\n2 3 0\r\n3 3 4\r\n4 0 4",
        ["--backend", "exact"],
        14.0,
        id="tsp-bom-crlf-trailing-blanks-no-eof",
    ),
    pytest.param(
        "odd.tsp",
        "TYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\n"
        "EDGE_WEIGHT_SECTION\n1.5 2 3.25\n1 2\n0.5\n",
        ["--backend", "exact"],
        6.0,
        id="tsp-float-weights",
    ),
    pytest.param("odd.txt", "2 1\n1 2 -3.5\n", ["--backend", "exact"], 0.0, id="maxcut-negative-weight"),
    pytest.param(
        "odd.txt", "\ufeff3 2\r\n1 2 0.25\r\n2 3 0.5\r\n", ["--backend", "exact"], 0.75, id="maxcut-float-crlf"
    ),
    pytest.param("odd.qubo", "p qubo 0 1 0 0\n", ["--backend", "exact"], 0.0, id="qubo-one-unused-variable"),
    pytest.param(
        "odd.csv", "0.5,1.25\r\n\r\n2,0.125\r\n", ["--baseline", "scipy-lsa"], 0.625, id="csv-floats-blank-line"
    ),
]


@pytest.mark.parametrize("name, text, solver, objective", ODD)
def test_valid_but_odd_input_is_solved_exactly(name, text, solver, objective, cli, tmp_path):
    path = tmp_path / name
    path.write_bytes(text.encode())
    problem = {".tsp": "tsp", ".txt": "maxcut", ".qubo": "qubo", ".csv": "assignment"}[path.suffix]
    run = _quiet(cli, ["solve", str(path), "--problem", problem, *solver, "--seed", "1", "--json"])
    assert run.code == 0, run.err
    assert json.loads(run.out)["objective"] == objective


# --- tables of optima beside an instance --------------------------------------------------------------------------

INSTANCE = {
    "tsp": ("x.tsp", "TYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 0 4\n"),
    "maxcut": ("x.txt", "3 1\n1 2 1\n"),
    "assignment": ("x.assign", "1\n7\n"),
}
TABLE = {"tsp": "optima.csv", "maxcut": "bks.csv", "assignment": "optima.csv"}
COLUMN = {"tsp": "optimum", "maxcut": "bks", "assignment": "opt"}


@pytest.mark.parametrize("problem", INSTANCE)
@pytest.mark.parametrize(
    "table, line, expected",
    [("instance,{column}\nx,12\n", 1, "needs a 'name' column"), ("name,n,{column}\nx,three,12\n", 2, "n 'three'"),
     ("name,{column}\nx,nan\n", 2, "'nan' is not finite"), ("name,{column}\nx,1_2\n", 2, "'1_2' is not a number")],
)
def test_a_malformed_table_of_optima_beside_the_file_is_one_line(problem, table, line, expected, cli, tmp_path):
    name, text = INSTANCE[problem]
    (tmp_path / name).write_text(text)
    beside = tmp_path / TABLE[problem]
    beside.write_text(table.format(column=COLUMN[problem]))
    run = _quiet(cli, ["solve", str(tmp_path / name), "--problem", problem, "--backend", "exact"])
    assert run.code == 2 and len(run.err.splitlines()) == 1, run.err
    assert run.err.startswith(f"hopsolve: error: {beside}:{line}: ") and expected in run.err, run.err
