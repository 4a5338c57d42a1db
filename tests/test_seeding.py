"""One seed path: seeds normalised once, per-read streams from one SeedSequence, huge seeds refused."""

from __future__ import annotations

import numpy as np
import pytest

from hopsolve.errors import ParameterError
from hopsolve.seeding import MAX_SEED, auxiliary_state, kernel_states, make_rng, resolve_seed

from .conftest import INSTANCES


def test_seeds_are_normalised_or_refused():
    assert resolve_seed(7) == 7 and resolve_seed(np.int64(7)) == 7 and resolve_seed(MAX_SEED) == MAX_SEED
    assert 0 <= resolve_seed(None) <= MAX_SEED
    for bad in (-1, 2**70, 1.5, "3", True):
        with pytest.raises(ParameterError, match="seed must be"):
            resolve_seed(bad)


def test_kernel_streams_are_fixed_by_the_seed_and_never_zero():
    a, b = kernel_states(5, 6), kernel_states(5, 6)
    assert a.dtype == np.uint64 and np.array_equal(a, b) and np.all(a != 0) and len(set(a.tolist())) == 6
    assert np.array_equal(kernel_states(5, 3), a[:3])  # a read's stream does not depend on how many there are
    assert auxiliary_state(5) != 0 and not np.array_equal(kernel_states(6, 6), a)


def test_read_streams_are_spawned_from_the_seed():
    """The documented tree: read i's state is the first word of ``SeedSequence(seed).spawn(3)[2].spawn(reads)[i]``,
    and the run generator and the auxiliary stream are the other two children."""
    reads_parent = np.random.SeedSequence(11).spawn(3)[2]
    expected = [child.generate_state(1, dtype=np.uint64)[0] | np.uint64(1) for child in reads_parent.spawn(4)]
    assert kernel_states(11, 4).tolist() == [int(x) for x in expected]
    run_child, aux_child, _ = np.random.SeedSequence(11).spawn(3)
    assert make_rng(11).random() == np.random.default_rng(run_child).random()
    assert int(auxiliary_state(11)) == int(aux_child.generate_state(1, dtype=np.uint64)[0] | np.uint64(1))
    assert int(auxiliary_state(11)) not in kernel_states(11, 4).tolist()


def test_a_huge_seed_is_a_one_line_user_error(cli):
    run = cli("solve", INSTANCES / "tsplib" / "burma14.tsp", "--seed", str(2**70))
    assert run.code == 2 and "seed must be" in run.err and len(run.err.strip().splitlines()) == 1


def test_kernel_states_of_a_batch_are_the_reads_own():
    from hopsolve.seeding import kernel_states

    whole = kernel_states(12345, 9)
    np.testing.assert_array_equal(kernel_states(12345, 4, first=5), whole[5:])
    np.testing.assert_array_equal(kernel_states(12345, 3), whole[:3])


@pytest.mark.parametrize("backend", ["anneal", "replica", "bifurcation", "hopfield"])
def test_a_read_s_result_depends_on_the_seed_and_its_index_not_on_how_many_reads(backend):
    """The module's promise, checked on the results of the backends whose reads run independently: replica's
    exchanges took kernel stream ``total + k``, which moved with the number of reads (read 6 gave -312 of 8 reads
    and -306 of 10). (tank's parallel schedules integrate the reads as one batch until all have settled, as its
    ``reads`` parameter says.)"""
    from hopsolve import build_registry
    from hopsolve.testing import random_energy

    cls = build_registry().backends[backend].cls
    work = {"sweeps": 20} if backend in ("anneal", "replica") else {}
    for energy in (random_energy(40, 1), random_energy(60, 7)):  # (either showed replica's fault, not both)
        few = cls().solve(energy, cls.Params(reads=3, **work), seed=5)
        more = cls().solve(energy, cls.Params(reads=5, **work), seed=5)
        assert np.array_equal(few.states, more.states[:3]) and np.array_equal(few.energies, more.energies[:3])
