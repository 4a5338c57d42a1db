"""The memory plugin: patterns, learning rules, recall by every backend, spurious states, CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hopsolve_memory.patterns import read_patterns
from hopsolve_memory.plugin import MemoryOptions, MemoryProblem, classify, memory_energy
from hopsolve_memory.recall import recall
from hopsolve_memory.rules import hebb, pseudo_inverse, storkey

from hopsolve import ParameterError, ParseError
from hopsolve.testing import check_problem, is_local_minimum

from .conftest import DATA, INSTANCES

MEMORY = INSTANCES / "memory"
MALFORMED = DATA / "malformed" / "memory"


def random_patterns(p: int, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice([-1, 1], (p, n)).astype(np.int8)


def corrupt(patterns: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cues = patterns.copy()
    for cue in cues:
        cue[rng.choice(len(cue), int(fraction * len(cue)), replace=False)] *= -1
    return cues


def test_seed_pictures_are_read_as_three_5x5_patterns():
    stored = read_patterns(MEMORY / "seed_pictures.patterns")
    assert stored.count == 3 and stored.shape == (5, 5)
    assert stored.picture(stored.patterns[0]) == ["..#..", "..#..", "#####", "..#..", "..#.."]
    letters = read_patterns(MEMORY / "letters_7x5.patterns")
    assert letters.count == 10 and letters.shape == (7, 5)


def test_hebb_is_the_outer_product_rule():
    xi = random_patterns(3, 20, 0)
    w = hebb(xi)
    expected = sum(np.outer(p, p) for p in xi.astype(float)) / 20
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(w, expected)


def test_storkey_matches_its_definition():
    xi = random_patterns(4, 12, 1).astype(float)
    w = np.zeros((12, 12))
    for p in xi:  # the textbook double loop
        h = np.array([[sum(w[i, k] * p[k] for k in range(12) if k not in (i, j)) for j in range(12)]
                      for i in range(12)])
        new = w + (np.outer(p, p) - p[:, None] * h.T - h * p[None, :]) / 12
        np.fill_diagonal(new, 0)
        w = new
    np.testing.assert_allclose(storkey(xi), w, atol=1e-12)


def test_pinv_stores_correlated_patterns_as_fixed_points():
    xi = random_patterns(30, 60, 2)
    energy = memory_energy(xi, MemoryOptions(rule="pinv"))
    assert all(is_local_minimum(energy, p) for p in xi)
    with pytest.raises(ParameterError, match="singular"):
        pseudo_inverse(np.vstack([xi[:2], xi[:1]]))


@pytest.mark.parametrize("rule", ["hebb", "storkey", "pinv", "dense", "rectified", "exp", "modern"])
def test_every_rule_recalls_from_a_near_cue(rule):
    xi = random_patterns(5, 100, 3)
    stored = MemoryProblem().from_patterns(xi).data
    results = recall(stored, corrupt(xi, 0.1, 4), MemoryOptions(rule=rule), seed=1)
    assert all(r.exact for r in results) and [r.match for r in results] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("backend", ["hopfield", "anneal", "tank"])
def test_backends_run_unchanged_on_dense_energies(backend):
    xi = random_patterns(40, 100, 5)  # far beyond Hebb's capacity, easy for n = 3
    stored = MemoryProblem().from_patterns(xi).data
    params = {"anneal": {"schedule": "constant", "beta": 5.0, "sweeps": 20},
              "tank": {"dt": 0.005, "u0": 0.5, "max_steps": 2000}}.get(backend, {})
    results = recall(stored, corrupt(xi[:6], 0.05, 6), MemoryOptions(rule="dense", degree=3), backend, seed=2,
                     params=params)
    if backend == "tank":
        assert sum(r.exact for r in results) >= 4
    else:
        assert all(r.exact for r in results)
    hebbian = recall(stored, corrupt(xi[:6], 0.05, 6), MemoryOptions(rule="hebb"), seed=2)
    assert sum(r.exact for r in hebbian) < 6  # α = 0.4 is past Hebb's capacity


def test_inverted_and_mixture_states_are_recognised():
    xi = random_patterns(3, 51, 7)
    assert classify(xi, -xi[1]) == ("inverted", 2)
    assert classify(xi, np.sign(xi[0] + xi[1] + xi[2]).astype(int)) == ("mixture", None)
    assert classify(xi, xi[2]) == ("stored", 3)


def test_far_cue_converges_to_the_inverted_cross():
    stored = read_patterns(MEMORY / "cross.patterns")
    cue = -stored.patterns[0].copy()
    cue[[0, 6, 12]] *= -1  # far from the cross, near its negation
    [result] = recall(stored, cue[None, :], MemoryOptions(), seed=0)
    assert result.kind == "inverted" and result.match is None and result.overlap < 0 and result.inverted == 1


def test_an_inverted_state_names_the_pattern_it_negates(cli, tmp_path):
    """The negative of pattern 1 was printed "inverted state (nearest: pattern 2)" (the largest overlap, another
    pattern's) and the JSON had no index of the pattern negated."""
    xi = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1]])
    np.save(tmp_path / "p.npy", xi)
    np.save(tmp_path / "cue.npy", -xi[:1])
    text = cli("recall", tmp_path / "p.npy", tmp_path / "cue.npy")
    assert text.code == 0 and "inverted pattern 1 (overlap -1 with it)" in text.out, text.out + text.err
    row = json.loads(cli("recall", tmp_path / "p.npy", tmp_path / "cue.npy",
                         "--json").out)
    assert row["kind"] == "inverted" and row["inverted"] == 1 and row["match"] is None
    assert row["recalled"] == (-xi[0]).tolist()


@pytest.mark.parametrize("arguments, message", [
    (["--backend", "exact"], "backend 'exact' does not start from the cues"),
    (["--param", "reads=abc"], "--param reads: recall runs one read per cue"),
    (["--rule", "modern", "--backend", "zzz"], "--backend does not apply to --rule modern"),
    (["--rule", "modern", "--param", "nope=1"], "--param does not apply to --rule modern"),
])
def test_recall_refuses_what_it_would_ignore_or_cannot_do(cli, arguments, message):
    """``--backend exact`` ended in an internal error (it returns ground states, not one state per cue); reads
    and, with ``--rule modern``, every backend option were dropped without a word."""
    run = cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", *arguments)
    assert run.code == 2 and run.err.count("\n") == 1 and message in run.err, run.err


def test_the_quadratic_rules_matrix_is_refused_before_it_is_built(cli, tmp_path, monkeypatch):
    """A 3,000-unit Hebbian matrix (72 MB) was built past HOPSOLVE_MAX_MATRIX_BYTES=1,000,000, by recall and
    by solve alike (30,000 units: 6.7 GiB past the default 2 GiB)."""
    xi = random_patterns(2, 3000, 1)
    np.save(tmp_path / "p.npy", xi)
    np.save(tmp_path / "cue.npy", xi[:1])
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", "1000000")
    for run in (cli("recall", tmp_path / "p.npy", tmp_path / "cue.npy"),
                cli("solve", tmp_path / "p.npy", "--problem", "memory")):
        assert run.code == 2 and run.err.count("\n") == 1 and "the hebb rule's 3,000×3,000 couplings" in run.err
        assert str(tmp_path / "p.npy") in run.err, run.err


def test_many_cues_are_printed_apart_and_numbered(cli, tmp_path):
    xi = random_patterns(2, 30, 4)
    np.save(tmp_path / "p.npy", xi)
    np.save(tmp_path / "cues.npy", xi)
    run = cli("recall", tmp_path / "p.npy", tmp_path / "cues.npy")
    assert run.code == 0 and "cue 1 of 2" in run.out and "\n\ncue 2 of 2" in run.out


def test_glauber_recall_has_a_non_monotone_energy_trace():
    stored = read_patterns(MEMORY / "seed_pictures.patterns")
    params = {"schedule": "constant", "beta": 0.1, "rule": "glauber", "sweeps": 60, "trace": True}
    [result] = recall(stored, stored.patterns[:1], MemoryOptions(), "anneal", seed=3, params=params)
    assert len(result.trace) == 60 and np.any(np.diff(result.trace) > 0)


def test_problem_conformance():
    xi = random_patterns(2, 10, 8)
    instance = MemoryProblem().from_patterns(xi)
    check_problem(MemoryProblem(), instance, [xi[0], xi[1]])


def test_cli_recall_text_and_json(cli):
    run = cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", "--seed", "1")
    assert run.code == 0 and "pattern 1" in run.out and "..#..   ..#.." in run.out
    result = json.loads(cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", "--rule",
                            "dense", "--degree", "3", "--json").out)
    for key in ("rule", "backend", "recalled", "match", "overlap", "exact", "steps", "energy"):
        assert key in result
    assert result["match"] == 1 and result["exact"] and result["overlap"] == 1.0


def test_batch_recall_from_npy(cli, tmp_path):
    xi = random_patterns(8, 200, 9)
    np.save(tmp_path / "p.npy", xi)
    np.save(tmp_path / "cues.npy", corrupt(xi, 0.1, 10))
    rows = json.loads(cli("recall", tmp_path / "p.npy", tmp_path / "cues.npy", "--json").out)
    assert [r["match"] for r in rows] == list(range(1, 9))


def test_solve_with_a_cue_option(cli):
    result = json.loads(cli("solve", MEMORY / "seed_pictures.patterns", "--option",
                            f"cue={MEMORY / 'cross_near.cue'}", "--seed", "1", "--json").out)
    assert result["problem"] == "memory" and result["objective"] == 1.0 and result["solver"] == "hopfield"


@pytest.mark.parametrize("name", ["different_shapes", "bad_character", "empty", "only_comment", "ragged_rows"])
def test_malformed_pattern_files(cli, name):
    path = MALFORMED / f"{name}.patterns"
    run = cli("recall", path, MEMORY / "cross_near.cue")
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and str(path) in run.err
    with pytest.raises(ParseError):
        read_patterns(path)


def test_wrong_cue_size_and_singular_pinv(cli):
    run = cli("recall", MEMORY / "seed_pictures.patterns", MALFORMED / "wrong_size.cue")
    assert run.code == 2 and "wrong_size.cue" in run.err and "25" in run.err
    run = cli("recall", MALFORMED / "duplicates.patterns", MALFORMED / "duplicates.patterns", "--rule", "pinv")
    assert run.code == 2 and "singular" in run.err and len(run.err.strip().splitlines()) == 1


def test_a_very_high_dense_degree_recalls_without_overflow(cli):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = cli("recall", INSTANCES / "memory" / "cross.patterns", INSTANCES / "memory" / "cross_near.cue",
                  "--rule", "dense", "--degree", "400")
    assert run.code == 0 and "overlap 1.000" in run.out


def test_a_cue_of_another_picture_shape_and_mixed_encodings_are_refused(cli, tmp_path):
    """A 1 × 25 picture was accepted as a cue for 5 × 5 patterns (same unit count), and an array of -1, 0 and 1
    was refused as "found -1, 0, 1" without saying what was wrong with them."""
    flat = tmp_path / "flat.cue"
    flat.write_text("..#....##.#####..#..#.#..\n")
    run = cli("recall", MEMORY / "seed_pictures.patterns", flat)
    assert run.code == 2 and f"{flat}: a cue is a picture of 1 × 25 cells, the stored patterns are 5 × 5" in run.err
    mixed = tmp_path / "mixed.npy"
    np.save(mixed, np.array([[1, -1, 0, 1]]))
    run = cli("recall", mixed, mixed)
    assert run.code == 2 and "mix the ±1 and 0/1 encodings (found -1, 0, 1)" in run.err and str(mixed) in run.err
    np.save(mixed, np.array([[0, -1, 0, -1]]))
    assert "(found -1, 0)" in cli("recall", mixed, mixed).err


def test_a_recall_records_its_seed_and_replays_with_it(cli):
    """Without --seed a recall drew a seed it did not record: a surprising result could not be repeated."""
    first = json.loads(cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", "--backend",
                           "anneal", "--json").out)
    assert isinstance(first["seed"], int)
    again = json.loads(cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", "--backend",
                           "anneal", "--seed", str(first["seed"]), "--json").out)
    assert again["recalled"] == first["recalled"] and again["seed"] == first["seed"]
    text = cli("recall", MEMORY / "seed_pictures.patterns", MEMORY / "cross_near.cue", "--seed", "5")
    assert "seed 5" in text.out


def test_solve_out_writes_the_recalled_picture_that_recall_reads_back(cli, tmp_path):
    """--out wrote ±1 values one a line, which recall then refused as a cue ("'-' is not '#' or '.'"); it is now
    the picture, in the patterns' own format."""
    from .conftest import INSTANCES

    out = tmp_path / "recalled.patterns"
    run = cli("solve", INSTANCES / "memory" / "cross.patterns", "--option",
              f"cue={INSTANCES / 'memory' / 'cross_near.cue'}", "--json", "--out", out)
    assert run.code == 0, run.err
    read = read_patterns(out)
    assert read.shape == (5, 5) and read.patterns[0].tolist() == json.loads(run.out)["solution"]
    assert cli("recall", INSTANCES / "memory" / "cross.patterns", out).code == 0


@pytest.mark.parametrize(("rule", "option"), [("hebb", "--degree"), ("hebb", "--beta"), ("exp", "--degree"),
                                              ("dense", "--beta")])
def test_recall_refuses_an_option_its_rule_does_not_use(cli, rule, option):
    """--degree and --beta were taken and ignored by rules that have neither (--backend with modern was refused)."""
    from .conftest import INSTANCES

    run = cli("recall", INSTANCES / "memory" / "cross.patterns", INSTANCES / "memory" / "cross_near.cue",
              "--rule", rule, option, "3")
    assert run.code == 2 and f"{option} does not apply to --rule {rule}" in run.err, run.err


def test_labelling_a_state_among_thousands_of_patterns_tries_only_the_closest_as_a_mixture(monkeypatch):
    """With 3,000 stored patterns, every trio of the 409 that overlapped a state by a quarter was tried (11 million):
    labelling one recalled state did not end, and ``solve``/``recall`` ignored their time limits. Only the 12
    closest are tried now; a true mixture's three are among them."""
    import itertools

    from hopsolve_memory import plugin as memory_plugin

    rng = np.random.default_rng(0)
    patterns = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3000, 100))
    mixture = np.sign(patterns[:3].astype(np.int64).sum(axis=0)).astype(np.int8)
    tried = []
    real = itertools.combinations
    monkeypatch.setattr(memory_plugin.itertools, "combinations", lambda items, r: tried.append(len(items)) or
                        real(items, r))
    [(kind, _)] = memory_plugin.classify_many(patterns, mixture[None])
    assert kind == "mixture" and tried and max(tried) <= memory_plugin.MIXTURE_CANDIDATES


def test_a_dense_memory_given_to_a_backend_that_cannot_take_it_is_told_which_can(cli):
    """``--backend exact --option rule=exp`` said "a exp pattern energy of degree 3 is not quadratic"."""
    run = cli("solve", INSTANCES / "memory" / "cross.patterns", "--option", "rule=exp", "--backend", "exact")
    assert run.code == 2 and "energy (F(x) = e^(βx)) is not quadratic" in run.err
    assert "hopfield, anneal and tank" in run.err and "degree" not in run.err


def _a_fixed_point_with_zero_fields() -> tuple[np.ndarray, np.ndarray]:
    """Hebbian patterns and a state every unit of which agrees with its (integer) field or has a field of exactly 0:
    a fixed point under ``zero_field=keep``, whose floating-point fields (couplings ``/N``) are 1e-17, not 0."""
    rng = np.random.default_rng(7)
    while True:
        xi = rng.choice([-1, 1], size=(int(rng.integers(2, 8)), 30)).astype(np.int8)
        w = xi.T.astype(int) @ xi.astype(int)
        np.fill_diagonal(w, 0)
        s = rng.choice([-1, 1], size=30)
        changed = True
        while changed:  # an exact integer descent, zero fields kept
            changed = False
            for i in rng.permutation(30):
                if (w[i] @ s) * s[i] < 0:
                    s[i], changed = -s[i], True
        if ((w @ s) == 0).any():
            return xi, s.astype(np.int8)


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_fixed_point_with_zero_fields_is_kept_under_zero_field_keep(cli, tmp_path, mode):
    """The fields' rounding (2.8e-17 where the exact field is 0) flipped the zero-field units of such a state: it
    left in 3 steps, in 16 of 24 runs over 12 such states."""
    xi, state = _a_fixed_point_with_zero_fields()
    np.save(tmp_path / "p.npy", xi)
    np.save(tmp_path / "c.npy", state)
    run = cli("recall", tmp_path / "p.npy", tmp_path / "c.npy", "--seed", "1", "--param", "zero_field=keep",
              "--param", f"mode={mode}", "--json")
    record = json.loads(run.out)
    assert run.code == 0 and record["recalled"] == state.tolist() and record["steps"] == 1


def test_the_pseudo_inverse_rule_of_n_patterns_keeps_every_cue(cli, tmp_path):
    """N patterns make the projection the identity and W = 0 (diagonal removed): every state is a fixed point.
    W's rounding (1.6e-15) walked every stored pattern, given as its own cue, away from itself (0 of 20)."""
    xi = np.random.default_rng(5).choice([-1, 1], size=(20, 20)).astype(np.int8)
    assert not pseudo_inverse(xi).any()
    np.save(tmp_path / "full.npy", xi)
    run = cli("recall", tmp_path / "full.npy", tmp_path / "full.npy", "--rule", "pinv", "--seed", "1", "--json")
    records = json.loads(run.out)
    assert run.code == 0 and len(records) == 20
    assert all(r["recalled"] == r["cue"] and r["exact"] for r in records)


def test_a_synchronous_two_cycle_is_said_and_its_reported_half_returned(cli, tmp_path):
    """Pattern (1, -1) and cue (1, 1) under synchronous updates swing between (1, 1) and (-1, -1). The recall
    printed the cue back as a "spurious state" (read as an attractor) and its JSON had no word of the cycle; and
    the run returned the cycle's earlier half, not the one its anytime trace had reported."""
    np.save(tmp_path / "p.npy", np.array([[1, -1]], dtype=np.int8))
    np.save(tmp_path / "c.npy", np.array([1, 1], dtype=np.int8))
    args = ("recall", tmp_path / "p.npy", tmp_path / "c.npy", "--param", "mode=sync", "--seed", "1")
    record = json.loads(cli(*args, "--json").out)
    assert record["outcome"] == "two_cycle" and record["recalled"] == [-1, -1]
    assert "not a fixed point: synchronous updates ended in a 2-cycle" in cli(*args).out
    settled = json.loads(cli("recall", tmp_path / "p.npy", tmp_path / "p.npy", "--json").out)
    assert settled["outcome"] == "fixed_point" and "not a fixed point" not in cli(
        "recall", tmp_path / "p.npy", tmp_path / "p.npy").out
    solved = json.loads(cli("solve", tmp_path / "p.npy", "--problem", "memory", "--option", f"cue={tmp_path / 'c.npy'}",
                            "--param", "mode=sync", "--seed", "1", "--json").out)
    assert solved["solution"] == [-1, -1] and solved["info"]["anytime"][-1][1] == solved["objective"]
    assert solved["params"]["reads"] == solved["reads"] == 1  # one read per cue (the default's 10 was recorded)


def test_a_proven_ground_state_is_not_called_an_optimal_recall(cli, tmp_path):
    """``exact`` proves the energy's ground state; memory's objective is the overlap with the nearest pattern, and
    a Hebbian network's ground states can be spurious: one with overlap 0.83 was "optimal" beside its gap of 17%
    to the stored patterns' 1."""
    import itertools

    rng = np.random.default_rng(1)
    states = np.array(list(itertools.product([-1, 1], repeat=12)))
    while True:
        xi = rng.choice([-1, 1], size=(4, 12))
        w = xi.T @ xi
        np.fill_diagonal(w, 0)
        energies = -0.5 * np.einsum("mi,ij,mj->m", states, w, states)
        if (states[energies == energies.min()] @ xi.T).max() < 12:  # no ground state is a stored pattern
            break
    np.save(tmp_path / "p.npy", xi.astype(np.int8))
    record = json.loads(cli("solve", tmp_path / "p.npy", "--problem", "memory", "--backend", "exact", "--json").out)
    assert record["objective"] < 1 and record["gap"] > 0 and record["status"] == "feasible"


@pytest.mark.parametrize("patterns, shape, said", [
    (np.zeros((0, 25)), None, "at least one pattern"),
    (np.ones((2, 0)), None, "at least one pattern"),
    (np.ones((2, 6)), (2, 2), "does not hold the patterns' 6 units"),
    (np.ones((2, 25)), (4, 4), "does not hold the patterns' 25 units"),
    (np.ones((2, 6)), (2,), "does not hold"),
])
def test_patterns_from_python_are_checked_as_the_files_are(patterns, shape, said):
    """No patterns gave numpy's "argmax of an empty sequence", no units an objective of NaN, and a shape of
    another size was taken: a 2 × 2 picture written for 6 units, or a cue refused later for a shape never given."""
    with pytest.raises(ParameterError, match=said):
        MemoryProblem.from_patterns(patterns, shape)
    assert MemoryProblem.from_patterns(np.ones((2, 6)), (2, 3)).data.shape == (2, 3)


def test_a_pattern_npy_read_as_an_assignment_names_the_memory_problem(cli, tmp_path):
    """``.npy`` files are assignment's by suffix: stored patterns given without ``--problem memory`` were refused
    as a cost matrix that must be square, without a word of the problem they are for."""
    np.save(tmp_path / "p.npy", np.ones((2, 6), dtype=np.int8))
    run = cli("solve", tmp_path / "p.npy")
    assert run.code == 2 and run.err.strip().endswith("(a .npy of ±1 rows is stored patterns: --problem memory)")


def test_a_recall_answers_where_the_network_went_not_a_state_it_passed(cli, tmp_path):
    """A state the synchronous dynamics only passed through (overlap 1 with a letter, energy -32.7) replaced the
    mixture state the network settled in (-34.9) as "the run's best": memory's objective is not its energy."""
    cue = tmp_path / "c.cue"
    cue.write_text(".###.\n....#\n#.#.#\n#####\n.#.##\n#....\n.....\n")
    record = json.loads(cli("solve", INSTANCES / "memory" / "letters_7x5.patterns", "--backend", "hopfield",
                            "--param", "mode=sync", "--option", f"cue={cue}", "--seed", "23", "--json").out)
    assert "answer_from_progress" not in record["info"] and record["info"]["fixed_points"] == 1
    assert record["energy"] == pytest.approx(-34.914, abs=1e-3) and record["objective"] < 1


@pytest.mark.parametrize("name", ["m.png", "m.svgz", "m.pgf", "M.GIF"])
def test_out_refuses_a_picture_suffix_for_a_text_solution(cli, tmp_path, name):
    """``--out m.png`` wrote the recalled state's text grid into a file named as a picture (and, after that was
    refused, ``m.svgz`` and ``m.pgf``, matplotlib's other formats, still did)."""
    run = cli("solve", INSTANCES / "memory" / "seed_pictures.patterns", "--out", tmp_path / name)
    assert run.code == 2 and "--out writes the solution as text, not a picture" in run.err
    assert not (tmp_path / name).exists()
