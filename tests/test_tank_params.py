"""tank's parameters as a user gives them: what the preset and each schedule take, what they refuse, what the record
says ran, and the notes for what a run does not use (found by a QAP/assignment/tank review)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hopsolve_assignment.plugin import AssignmentProblem
from hopsolve_tsp.plugin import TspProblem

from hopsolve import ParameterError
from hopsolve.backends.tank import TankBackend, TankParams, potts_groups
from hopsolve.backends.tank_potts import critical_gain_and_exactness, softmax_energy

from .conftest import INSTANCES

HT_ENCODING = ("--weight", "row=500", "--weight", "column=500", "--weight", "total=200", "--weight",
               "objective=500", "--option", "active=15", "--option", "normalise=false")


def ten_cities(tmp_path):
    xy = np.random.default_rng(3).integers(0, 1000, (10, 2))
    path = tmp_path / "r10.tsp"
    path.write_text("NAME: r10\nTYPE: TSP\nDIMENSION: 10\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
                    + "".join(f"{i + 1} {x} {y}\n" for i, (x, y) in enumerate(xy)) + "EOF\n")
    return path


def test_the_documented_preset_recipe_runs(cli, tmp_path):
    """With ñ ≠ n the energy has a layout but no permutation view, and the warm-up's miniature (no layout) was run
    with the preset: the recipe TankParams.preset gives was refused on every TSP."""
    run = cli("solve", ten_cities(tmp_path), "--backend", "tank", "--seed", "1", "--param",
              "preset=hopfield-tank-1985", *HT_ENCODING, "--param", "max_steps=200", "--json")
    assert run.code == 0, run.err
    params = json.loads(run.out)["params"]
    # the record says what the preset set, not the defaults it replaced
    assert params["units"] == "graded" and params["schedule"] == "fixed" and params["dt"] == 1e-5
    assert params["start"] == pytest.approx(10 / 100)


@pytest.mark.parametrize("given, named", [
    (("--param", "tau=5"), "tau"), (("--param", "integrator=rk45"), "integrator"),
    (("--param", "start=0.3", "--param", "schedule=mfa"), "schedule, start"),
])
def test_the_preset_refuses_what_it_would_override(cli, tmp_path, given, named):
    run = cli("solve", ten_cities(tmp_path), "--backend", "tank", "--param", "preset=hopfield-tank-1985",
              *HT_ENCODING, *given)
    assert run.code == 2 and f"preset=hopfield-tank-1985 sets {named}" in run.err


@pytest.mark.parametrize("params, message", [
    ({"integrator": "rk45", "units": "graded", "u0_final": 1e-4}, "gain annealing (u0_final) needs"),
    ({"integrator": "rk45", "schedule": "mfa"}, "integrates the fixed schedule only"),
    ({"units": "graded", "start": 2.0}, "start must lie strictly between 0 and 1"),
    ({"units": "graded", "start": -1.0}, "start must lie strictly between 0 and 1"),
    ({"trace": True}, "schedule=serial does not record trace"),
])
def test_values_a_run_would_ignore_or_clip_are_refused(params, message):
    energy = AssignmentProblem().encode(AssignmentProblem.from_costs(np.arange(16.0).reshape(4, 4) % 5))
    from hopsolve.permutation import permutation_energy

    qap = permutation_energy(np.ones((4, 4)) - np.eye(4), np.arange(16.0).reshape(4, 4) % 3)
    target = qap if params.get("trace") else energy
    with pytest.raises(ParameterError, match=re.escape(message)):
        TankBackend().solve(target, TankParams(**params, max_steps=5), seed=1)


def test_rk45_on_an_auto_schedule_integrates_the_fixed_one():
    energy = AssignmentProblem().encode(AssignmentProblem.from_costs(np.arange(16.0).reshape(4, 4) % 5))
    samples = TankBackend().solve(energy, TankParams(integrator="rk45", max_steps=20, reads=2), seed=1)
    assert samples.derived["schedule"] == "fixed" and "rhs_evaluations" in samples.info


def test_the_record_shows_what_an_auto_schedule_chose_and_the_final_gain_apart_from_u0_final(cli):
    result = json.loads(cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--backend", "tank", "--seed", "1",
                            "--param", "schedule=mfa", "--param", "max_steps=50", "--json").out)
    params = result["params"]
    assert params["cooling"] == 0.9 and params["u0_final"] is None and params["gain_final"] > 0


def test_what_the_serial_schedule_does_not_use_is_noted(cli):
    run = cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--backend", "tank", "--seed", "1", "--param", "tau=3",
              "--param", "trajectory=true", "--weight", "row=0.01")
    assert run.code == 0
    assert "schedule=serial does not use tau" in run.out
    assert "trajectory is recorded per read in the sample set" in run.out
    assert "the weight of row does not change this run: tank's serial schedule" in run.out


def test_no_coupling_between_the_groups_has_no_critical_gain_and_is_not_an_internal_error():
    """A linear assignment with its column penalty weighted 0 left the softmax directions uncoupled: ARPACK's
    'starting vector is zero' reached the user as an internal error."""
    costs = np.random.default_rng(1).integers(1, 9, (10, 10))
    energy = AssignmentProblem().encode(AssignmentProblem.from_costs(costs), weights={"column": 0})
    groups = potts_groups(energy)
    gain, exact = critical_gain_and_exactness(softmax_energy(energy, groups), groups, 1.0, np.random.default_rng(0))
    assert gain == 0.0 and exact
    samples = TankBackend().solve(energy, TankParams(max_steps=20, reads=1), seed=1)
    assert samples.derived["u0_critical"] == 0.0


def test_a_critical_gain_cut_short_by_its_budget_is_not_offered_as_a_replay():
    """A timed mfa run's Lanczos ran on a smaller basis: its critical gain differed from the untimed one's in the
    twelfth digit, and its "replay" gave another answer (assign300: 4355 against 4687)."""
    _, d = None, np.random.default_rng(2).random((12, 12))
    energy = TspProblem().encode(TspProblem.from_distances(d + d.T))
    groups = potts_groups(energy)
    reduced = softmax_energy(energy, groups)
    free = critical_gain_and_exactness(reduced, groups, 1.0, np.random.default_rng(0))
    roomy = critical_gain_and_exactness(reduced, groups, 1.0, np.random.default_rng(0), products=100_000)
    cut = critical_gain_and_exactness(reduced, groups, 1.0, np.random.default_rng(0), products=8)
    assert free[1] and roomy == free  # bit for bit: the same basis, converged within the budget
    assert not cut[1]


def test_the_serial_progress_total_is_the_work_expected_not_every_read_at_max_steps():
    costs = np.random.default_rng(4).random((8, 8))
    energy = TspProblem().encode(TspProblem.from_distances(costs + costs.T))
    updates = []
    samples = TankBackend().solve(energy, TankParams(reads=3), seed=1, callback=updates.append)
    assert all(u["done"] <= u["total"] for u in updates)
    assert updates[-1]["total"] < 3 * TankParams().max_steps / 5  # 2,064 sweeps a read at most, not 20,000
    assert updates[-1]["done"] == samples.work


def test_notes_name_what_a_schedule_ignores_and_not_what_it_uses():
    """u0 is mfa's gain where the critical gain is 0 (it was noted as unused); u0_final under serial or mfa and a
    start under Potts units were ignored without a note."""
    costs = np.random.default_rng(1).integers(1, 9, (10, 10))
    energy = AssignmentProblem().encode(AssignmentProblem.from_costs(costs), weights={"column": 0})
    samples = TankBackend().solve(energy, TankParams(schedule="mfa", u0=0.5, u0_final=0.01, start=0.3, max_steps=50,
                                                     reads=1), seed=1)
    note = samples.info["note"]
    assert "u0_final" in note and "start" in note and "u0," not in note and not note.endswith("u0: that")


def test_the_self_coupling_is_switched_off_by_default_on_large_permutations_only():
    """Kept to the end, the self-coupling broke every read from 200 cities on (kroA200: 609% above the optimum,
    44-86% with it off at 0.95 saturation; RESULTS §11.5)."""
    from hopsolve import Metric, tour_energy
    from hopsolve.backends.tank import SELF_COUPLING_OFF_FROM

    def resolved(n: int, **given) -> TankParams:
        points = np.random.default_rng(n).random((n, 2)) * 1000
        return TankBackend().resolved(tour_energy(Metric("EUC_2D", points=points)), TankParams(**given))

    assert resolved(SELF_COUPLING_OFF_FROM).self_coupling_off_at == 0.95
    assert resolved(SELF_COUPLING_OFF_FROM - 1).self_coupling_off_at is None
    assert resolved(SELF_COUPLING_OFF_FROM, self_coupling_off_at=None).self_coupling_off_at is None  # as given
    assert resolved(20, self_coupling_off_at=0.9).self_coupling_off_at == 0.9


def test_mfa_notes_u0_only_where_the_critical_gain_replaces_it(cli):
    run = cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--backend", "tank", "--seed", "1", "--param",
              "schedule=mfa", "--param", "u0=5", "--param", "max_steps=50")
    assert run.code == 0 and "schedule=mfa does not use u0" in run.out


def test_a_backend_that_searches_every_state_says_it_does_not_start_from_the_cues(cli):
    """``exact`` refuses initial states; memory's cue is its problem's start state, dropped with a note."""
    run = cli("solve", INSTANCES / "memory" / "cross.patterns", "--backend", "exact", "--option",
              "cue=" + str(INSTANCES / "memory" / "cross_near.cue"))
    assert run.code == 0, run.err
    assert "exact does not start from the problem's start states" in run.out


def test_a_parameter_of_several_kinds_names_them_all_when_refused(cli):
    """``self_coupling_off_at=foo`` was "not a valid float", leaving out auto and none."""
    run = cli("solve", INSTANCES / "qaplib" / "nug12.dat", "--backend", "tank", "--param",
              "self_coupling_off_at=foo")
    assert run.code == 2 and "self_coupling_off_at='foo' is not a number, auto or none" in run.err


@pytest.mark.parametrize("kept", ["trajectory", "trace"])
def test_a_recording_too_large_names_what_records_it(cli, kept):
    """A trajectory or trace past the memory limit was said as "1 read of 2,000,000,040 units … another backend"
    (with more reads: give fewer reads), where record_every, max_steps or leaving the recording out fit."""
    run = cli("solve", INSTANCES / "qubo" / "random20.qubo", "--backend", "tank", "--param", f"{kept}=true",
              "--param", "max_steps=100000000000", "--reads", "1")
    assert run.code == 2 and f"the {kept} of 1 read" in run.err
    assert run.err.strip().endswith(f"record less often (record_every), fewer steps (max_steps) or leave out {kept}")
