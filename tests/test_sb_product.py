"""bSB's product steps (:mod:`hopsolve.backends._sb_product`): one BLAS product a step for the position fields of
dense models while most positions move, then the coupling rows."""

from __future__ import annotations

import numpy as np
import pytest

from hopsolve import Energy, Vartype
from hopsolve.backends import _sb_kernels as SB
from hopsolve.backends import _sb_product as product
from hopsolve.backends._model import compile_spin_model
from hopsolve.backends.bifurcation import BifurcationBackend, BifurcationParams, _kernel_model
from hopsolve.energy import OneHotGroups
from hopsolve.testing import random_energy

from .conftest import complete_pm1_energy


def _grouped_dense(n: int, seed: int) -> Energy:
    """Dense float64 couplings and a one-hot penalty over groups of four units (structured groups)."""
    rng = np.random.default_rng(seed)
    q = np.triu(rng.normal(size=(n, n)), 1)
    groups = OneHotGroups.from_lists([list(range(k, k + 4)) for k in range(0, n, 4)])
    energy = Energy(Vartype.BINARY, (Energy.from_qubo(q).terms[0], groups.penalty("onehot", n)), groups=groups)
    return energy.reweighted(onehot=2.0)


ENERGIES = {"float32 rows": lambda: complete_pm1_energy(90, 1, bias=True, weight=0.5),
            "float64 rows": lambda: complete_pm1_energy(90, 2, bias=True, weight=0.1),
            "float64 rows and groups": lambda: _grouped_dense(88, 3)}


def _model_and_reads(energy: Energy, replicas: int) -> tuple[SB.SBModel, SB.SBReads, SB.SBReads]:
    model = _kernel_model(compile_spin_model(energy))
    rng = np.random.default_rng(4)
    shape = (replicas, energy.num_variables)
    x, y = rng.uniform(-0.1, 0.1, shape), rng.uniform(-0.1, 0.1, shape)
    by_products, by_rows = SB.new_reads(model, x.copy(), y.copy(), 50), SB.new_reads(model, x, y, 50)
    SB.refresh(model, by_products, True)
    SB.refresh(model, by_rows, True)
    return model, by_products, by_rows


@pytest.mark.parametrize("name", sorted(ENERGIES))
def test_a_product_step_moves_as_a_row_step_and_sets_the_position_fields_to_w_x(name, monkeypatch):
    monkeypatch.setattr(product, "PRODUCT_SHARE", 0.0)
    model, by_products, by_rows = _model_and_reads(ENERGIES[name](), 5)
    assert product.dense_rows(model).astype(np.float64).size and (name != "float32 rows" or model.dense32.size)
    assert (len(model.group_scale) > 0) == ("groups" in name)
    run = SB.SBRun(np.linspace(0.0, 1.0, 50), 1.0, 0.3, 0.5, False, 0)
    assert product.product_steps(model, run._replace(pump=run.pump[:1]), by_products, 2) == (1, False)
    SB.sb_steps(model, run._replace(pump=run.pump[:1]), by_rows, 2)
    # the step itself read the same fields: the same floats, bit for bit
    for field in ("x", "y", "spins", "field_s", "gsum_s", "gsum_x", "energy", "best", "best_spins", "trace"):
        assert np.array_equal(getattr(by_products, field), getattr(by_rows, field)), field
    # float32 sums of n terms of at most 1 in size: within n·2⁻²⁴ of the float64 ones (float64 sums: far closer)
    tolerance = 1e-12 if model.dense32.size == 0 else 90 * 2.0**-24
    np.testing.assert_allclose(by_products.field_x, by_rows.field_x, rtol=0, atol=tolerance)
    # 49 more: the fields stay W x, and recomputing everything from the positions and spins changes nothing
    assert product.product_steps(model, run._replace(pump=run.pump[1:], trace_offset=1), by_products, 2,
                                 starting=False) == (49, False)
    assert np.array_equal(by_products.spins, np.where(by_products.x >= 0, 1.0, -1.0))
    couplings = product.dense_rows(model).astype(np.float64)
    np.testing.assert_allclose(by_products.field_x, by_products.x @ couplings, rtol=0, atol=10 * tolerance)
    again = SB.SBReads(*(np.copy(part) for part in by_products))
    SB.refresh(model, again, True)
    for field in ("field_s", "gsum_s", "gsum_x", "energy"):
        np.testing.assert_allclose(getattr(by_products, field), getattr(again, field), rtol=1e-9, atol=1e-9)
    assert np.all(by_products.best <= by_products.trace.min(axis=1))
    assert np.array_equal(by_products.best, np.minimum(by_products.trace.min(axis=1), by_rows.best))


def test_products_stop_when_few_positions_move_and_the_rows_go_on():
    model, reads, _ = _model_and_reads(ENERGIES["float32 rows"](), 4)
    run = SB.SBRun(np.linspace(0.0, 1.0, 400), 1.0, 0.3, 0.5, False, 0)
    done, over = product.product_steps(model, run, reads, 2)
    inside = np.mean(np.abs(reads.x) < 1.0)
    assert 0 < done < 400 and over and inside < product.PRODUCT_SHARE  # the last step moved too few
    # a new run starting here would not take them either
    assert product.product_steps(model, run._replace(pump=run.pump[done:]), reads, 2) == (0, True)


def test_only_large_dense_ballistic_runs_take_products(monkeypatch):
    dense = _kernel_model(compile_spin_model(complete_pm1_energy(product.PRODUCT_MIN_UNITS, 5, bias=True)))
    small = _kernel_model(compile_spin_model(complete_pm1_energy(product.PRODUCT_MIN_UNITS - 1, 5, bias=True)))
    sparse = _kernel_model(compile_spin_model(random_energy(product.PRODUCT_MIN_UNITS + 10, 3, density=0.02)))
    assert product.takes_products(dense, True) and not product.takes_products(dense, False)
    assert not product.takes_products(small, True) and not product.takes_products(sparse, True)


@pytest.fixture(scope="module")
def k360() -> Energy:
    return complete_pm1_energy(360, 7, bias=True)


def test_a_run_takes_products_first_and_gives_the_same_states_whatever_the_threads(k360, monkeypatch):
    taken = []
    stepping = product.product_steps
    monkeypatch.setattr(product, "product_steps",
                        lambda *args, **kwargs: taken.append(stepping(*args, **kwargs)) or taken[-1])
    backend = BifurcationBackend()
    params = BifurcationParams(reads=6, steps=300, trace=True, mode="ballistic")
    both = backend.solve(k360, params, seed=5)
    one = backend.solve(k360, BifurcationParams(reads=6, steps=300, trace=True, threads=1, mode="ballistic"), seed=5)
    # each solve takes products (in as many calls as it has chunks) until one says they are over
    ends = [k for k, (_, over) in enumerate(taken) if over]
    assert len(ends) == 2 and ends[1] == len(taken) - 1
    steps = [sum(done for done, _ in taken[: ends[0] + 1]), sum(done for done, _ in taken[ends[0] + 1:])]
    assert steps[0] == steps[1] and 0 < steps[0] < 300
    assert np.array_equal(both.states, one.states) and np.array_equal(both.energies, one.energies)
    assert np.array_equal(both.per_read["trace"], one.per_read["trace"])
    np.testing.assert_allclose(both.energies, [k360.energy(state) for state in both.states])
    np.testing.assert_allclose(both.per_read["trace"].min(axis=1), both.energies)


def test_products_find_cuts_as_good_as_the_rows(k360, monkeypatch):
    """The same dynamics but for rounding: over 12 reads the best and mean energies of the two agree within 1%."""
    backend = BifurcationBackend()
    params = BifurcationParams(reads=12, steps=300, mode="ballistic")
    with_products = backend.solve(k360, params, seed=6)
    monkeypatch.setattr(product, "PRODUCT_MIN_UNITS", 10**9)
    by_rows = backend.solve(k360, params, seed=6)
    for statistic in (np.min, np.mean):
        a, b = statistic(with_products.energies), statistic(by_rows.energies)
        assert abs(a - b) <= 0.01 * abs(b)
