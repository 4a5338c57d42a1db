"""A timed run records the sweeps and schedule changes it made; those parameters replay it exactly, untimed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hopsolve
from hopsolve.backends.replan import Replan, apply_replan, parse_replan, resample_rest
from hopsolve.errors import ParameterError

INSTANCES = Path(__file__).resolve().parents[1] / "instances"


def _replayed(result: hopsolve.Result, source: Path, **kwargs) -> hopsolve.Result:
    replay = result.info["replay"]
    assert replay and all(value != "" for key, value in replay.items() if key != "replan")
    return hopsolve.solve(source, seed=result.seed, params={**kwargs.pop("params", {}), **replay}, **kwargs)


def _assert_same_run(timed: hopsolve.Result, untimed: hopsolve.Result) -> None:
    assert untimed.solution == timed.solution
    assert untimed.energy == timed.energy
    assert untimed.info["sweeps_done"] == timed.info["sweeps_done"]
    assert untimed.params.get("time_limit") is None


def test_a_squeezed_tour_anneal_replays_exactly():
    """400,000 sweeps (about 18 s) cannot run in 1 s: the schedule is squeezed and cut, and both changes are
    recorded. 1 s, not 0.3: on a loaded machine reading and encoding left the solver 0.16 s, too little to build the
    schedule (0.04 s) in its 20% share, and the run was refused instead of squeezed."""
    source = INSTANCES / "tsplib" / "kroA100.tsp"
    timed = hopsolve.solve(source, seed=11, time_limit=1.0, params={"sweeps": 400_000, "fill_time": False})
    assert timed.info["schedule_compressed"] or timed.info["timed_out"]
    assert timed.info["replay"]["replan"] != ""
    _assert_same_run(timed, _replayed(timed, source))


def test_an_anytime_tour_anneal_replays_exactly():
    """The CLI's anytime run (its schedule stretched to fill the limit) replays from its recorded parameters."""
    source = INSTANCES / "tsplib" / "eil51.tsp"
    timed = hopsolve.solve(source, seed=7, time_limit=0.5)
    assert timed.params["fill_time"] is True
    _assert_same_run(timed, _replayed(timed, source))


def test_a_timed_flip_anneal_replays_exactly():
    source = INSTANCES / "gset" / "G14.txt"
    # 1 s, not 0.3: on a loaded CI machine reading and encoding left the solver 0.08 s, too little to build the
    # 400,000-sweep schedule (0.04 s) in its 20% share, and the run was refused instead of squeezed
    timed = hopsolve.solve(source, backend="anneal", seed=3, time_limit=1.0, params={"sweeps": 400_000})
    assert timed.info["replay"]["replan"] != ""
    _assert_same_run(timed, _replayed(timed, source, backend="anneal"))


def test_the_anytime_maxcut_default_replays_exactly_with_its_reads():
    """replica's anytime rule picks the reads and sweeps from a pilot's pace; the replay names both."""
    source = INSTANCES / "gset" / "G14.txt"
    timed = hopsolve.solve(source, seed=5, time_limit=1.0)
    assert timed.solver == "replica" and "reads" in timed.info["replay"]
    _assert_same_run(timed, _replayed(timed, source))


def test_replan_text_round_trips_and_applies_in_order():
    schedule = np.linspace(0.1, 1.0, 100)
    plan = Replan()
    schedule2 = plan.resample(schedule, 10, 40)  # squeezed: 50 sweeps in all
    assert len(schedule2) == 50 and schedule2[-1] == pytest.approx(1.0)
    schedule3 = plan.resample(schedule2, 20, 200)
    plan.stop(schedule3, 150)
    text = plan.text()
    assert text == "10:50,20:220,150:150"
    replayed = apply_replan(schedule, parse_replan(text, "t"), "t")
    np.testing.assert_array_equal(replayed, schedule3[:150])


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 300)), max_size=5))
def test_replan_applies_any_valid_change_list(raw):
    changes, at = [], 0
    for step, extra in raw:
        at += step
        changes.append((at, at + extra))
    schedule = np.geomspace(0.1, 10.0, 60)
    text = ",".join(f"{a}:{t}" for a, t in changes)
    parsed = parse_replan(text, "t")
    assert parsed == tuple(changes)
    length = 60
    for a, t in changes:
        if a > length or (a == length and t > a):
            with pytest.raises(ParameterError, match="starts after"):
                apply_replan(schedule, parsed, "t")
            return
        length = t
    result = apply_replan(schedule, parsed, "t")
    assert len(result) == length
    assert np.all(result >= 0.1 - 1e-12) and np.all(result <= 10.0 + 1e-12)


@pytest.mark.parametrize("text", ["5", "a:b", "5:4", "-1:3", "10:20,5:30", "1:2:3"])
def test_a_malformed_replan_is_refused(text):
    with pytest.raises(ParameterError, match="replan"):
        parse_replan(text, "backend 'anneal'")


def test_resampling_to_zero_sweeps_cuts_the_schedule():
    schedule = np.arange(10.0)
    np.testing.assert_array_equal(resample_rest(schedule, 4, 0), schedule[:4])


def test_the_cli_prints_the_replay_of_a_timed_run(cli):
    run = cli("solve", str(INSTANCES / "tsplib" / "burma14.tsp"), "--time-limit", "0.3", "--seed", "2")
    assert run.code == 0, run.err
    assert "replay without the time limit: --seed 2 --param sweeps=" in run.out


def test_a_long_replan_is_summarised_on_the_terminal_and_whole_in_json():
    """A long run's replan lists every change of its schedule (pla85900 at 60 s: thousands of characters): the
    terminal line names how many, ``--json`` keeps them whole; a short one is printed as it is."""
    from hopsolve.cli import REPLAY_SHOWN, _replay_params

    long = ",".join(f"{at}:{1000 + at}" for at in range(1, 400, 3))
    assert len(long) > REPLAY_SHOWN
    line = _replay_params({"sweeps": 232, "replan": long, "unused": ""})
    assert line == ("--param sweeps=232 --param replan=… (133 changes; --json prints it whole under "
                    "info.replay.replan)")
    short = _replay_params({"sweeps": 232, "replan": "3:1559,5:1259"})
    assert short == "--param sweeps=232 --param replan=3:1559,5:1259"


def test_an_oversized_replan_is_refused_before_allocation(cli):
    run = cli("solve", str(INSTANCES / "tsplib" / "burma14.tsp"), "--param", "replan=0:100000000000")
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1, run.err


def test_a_timed_tank_run_replays_from_its_reads_and_steps():
    from hopsolve.backends.tank import TankBackend, TankParams
    from hopsolve.testing import random_energy

    energy = random_energy(40, 3)
    timed = TankBackend().solve(energy, TankParams(reads=6, max_steps=10**9, settle_tolerance=1e-300,
                                                   time_limit=0.2), seed=4)
    replay = timed.info["replay"]
    assert timed.timed_out and 1 <= replay["reads"] <= 6 and replay["max_steps"] >= 1
    untimed = TankBackend().solve(energy, TankParams(settle_tolerance=1e-300, **replay), seed=4)
    np.testing.assert_array_equal(untimed.states, timed.states)
    np.testing.assert_array_equal(untimed.energies, timed.energies)


def test_tank_refuses_a_limit_shorter_than_one_step(monkeypatch):
    from hopsolve.backends import tank
    from hopsolve.errors import TooLargeError
    from hopsolve.testing import random_energy

    monkeypatch.setitem(tank.EVALUATIONS_PER_STEP, "euler", 10**12)  # one step "takes" hours
    with pytest.raises(TooLargeError, match="that needs at least .* s after reading and encoding"):
        tank.TankBackend().solve(random_energy(10, 1), tank.TankParams(time_limit=1.0), seed=1)


def test_a_timed_bifurcation_run_replays_exactly():
    source = INSTANCES / "gset" / "G14.txt"
    # 1 s, not 0.3, for the reason test_a_timed_flip_anneal_replays_exactly gives
    timed = hopsolve.solve(source, backend="bifurcation", seed=9, time_limit=1.0, params={"steps": 400_000})
    assert timed.info["replay"]["replan"] != ""
    _assert_same_run_steps(timed, _replayed(timed, source, backend="bifurcation"))


def _assert_same_run_steps(timed: hopsolve.Result, untimed: hopsolve.Result) -> None:
    assert untimed.solution == timed.solution and untimed.energy == timed.energy
    assert untimed.info["steps_done"] == timed.info["steps_done"]


def test_a_timed_hopfield_run_keeps_its_finished_reads_and_replays_them():
    from hopsolve.backends.hopfield import HopfieldBackend, HopfieldParams
    from hopsolve.testing import random_energy

    energy, reads = random_energy(400, 5), 20_000
    params = HopfieldParams(reads=reads, time_limit=1.0)
    HopfieldBackend().prepare(energy, params)  # compile outside the limit, as hopsolve solve does
    timed = HopfieldBackend().solve(energy, params, seed=8)
    finished = timed.info["replay"]["reads"]
    assert timed.timed_out and 1 <= finished <= len(timed) < reads
    cut = set(timed.per_read["outcome"][finished:])  # the batch the deadline cut, if any: some of its descents
    assert not cut or ("timed_out" in cut and cut <= {"timed_out", "fixed_point"})  # may have finished first
    untimed = HopfieldBackend().solve(energy, HopfieldParams(reads=finished), seed=8)
    np.testing.assert_array_equal(untimed.states, timed.states[:finished])


def test_hopfield_cuts_many_descents_at_the_deadline_and_replays_only_whole_batches():
    """Single-unit descents on kroA100's penalty energy (10⁴ units) took 2.5–50 ms a read on the project's
    machines (200 fitted in 0.5 s on a fast one, so the test once depended on a slow one): 1000 of them do not fit
    in 2 s, and a batch the limit cuts is returned as it is and left out of the replay."""
    source = INSTANCES / "tsplib" / "kroA100.tsp"
    # 2 s: building the 2·10⁶ couplings (~0.1 s, 0.54 s on a loaded CI machine, where 1 s left it 0.35 s and the
    # run was refused) must fit in its share of the limit, or the run is refused, not cut
    timed = hopsolve.solve(source, backend="hopfield", seed=2, time_limit=2.0,
                           params={"units": "single", "reads": 1000})
    assert timed.info["timed_out"] and timed.wall_time_s < 3.5
    assert timed.info["replay"]["reads"] <= timed.reads  # a batch the deadline cut, if any, is not replayed


def test_the_cli_says_when_the_time_limit_cut_a_run_short(cli):
    """800,000 steps without a squeezed schedule cannot end in 0.5 s: the summary says how much of the run was
    done, not just its answer. (Whether a squeezed schedule ends inside a limit depends on the machine's pace, so
    that a squeezed run that ended is not noted is checked on its record, in the table below.)"""
    import re

    run = cli("solve", str(INSTANCES / "gset" / "G14.txt"), "--backend", "bifurcation", "--time-limit", "0.5",
              "--seed", "1", "--param", "steps=800000", "--param", "fit_schedule=false")
    assert run.code == 0, run.err
    assert re.search(r"\nnote: the time limit stopped this run after [\d,]+ of its 800,000 steps, before its "
                     r"schedule ended; a longer limit", run.out), run.out


@pytest.mark.parametrize(("info", "noted"), [
    ({"timed_out": True, "work": 10, "work_unit": "steps", "replay": {"steps": 1000}}, True),
    ({"timed_out": True, "work": 300, "work_unit": "sweeps", "replay": {"sweeps": 2500}}, True),
    ({"schedule_compressed": True, "work": 300, "work_unit": "sweeps", "replay": {"sweeps": 2500}}, False),
    # compressed below a tenth: bifurcation on a280 at 15 s ran 10 of its 1,000 steps, a tour 71% above optimal
    ({"schedule_compressed": True, "work": 10, "work_unit": "steps", "replay": {"steps": 1000}}, True),
    ({"schedule_compressed": True, "interrupted": True, "work": 10, "work_unit": "steps",
      "replay": {"steps": 1000}}, False),  # Ctrl-C stopped it: the CLI says interrupted
    ({"timed_out": True, "work": 1065, "work_unit": "steps", "replay": {"steps": 1000}}, False),  # stretched
    ({"timed_out": False, "work": 10, "work_unit": "steps", "replay": {"steps": 1000}}, False),
    ({"timed_out": True, "work": 10, "work_unit": "steps", "replay": {"reads": 4}}, False),  # no planned steps
    ({"timed_out": True, "work": 10, "work_unit": "steps"}, False),
])
def test_a_cut_short_note_only_where_a_run_stopped_short_of_its_planned_work(info, noted):
    from types import SimpleNamespace

    from hopsolve.cli import _cut_short

    note = _cut_short(SimpleNamespace(info=info))
    assert (note is not None) == noted
    if noted:
        assert f"{info['work']:,} of its {info['replay'][info['work_unit']]:,} {info['work_unit']}" in note


def test_the_replay_carries_the_reads_and_parameters_the_caller_gave():
    """The replay named only what the run chose (sweeps, replan): a run with ``--reads 8 --param neighbours=8
    --param moves=2opt:1`` replayed from it alone ran 2 reads of the default moves and another answer (usa13509:
    22574143 against 22394225). It now carries what the caller gave too, the clock's parameters left out."""
    source = INSTANCES / "tsplib" / "eil51.tsp"
    timed = hopsolve.solve(source, seed=3, time_limit=0.5, reads=4, params={"neighbours": "8", "moves": "2opt:1"})
    replay = timed.info["replay"]
    assert replay["reads"] == 4 and replay["neighbours"] == "8" and replay["moves"] == "2opt:1"
    assert not {"time_limit", "fill_time"} & set(replay)
    untimed = hopsolve.solve(source, seed=timed.seed, params=replay)  # the replay alone, nothing else
    _assert_same_run(timed, untimed)
    assert untimed.reads == 4
