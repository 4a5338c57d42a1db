"""The energy model: conventions, SPIN/BINARY equality, structured terms, fields, weights, limits, dimod."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import hopsolve
from hopsolve import Energy, GroupSquareTerm, ParameterError, QuadraticTerm, TooLargeError, Vartype
from hopsolve.testing import random_energy


def all_states(n: int, vartype: Vartype) -> np.ndarray:
    return np.array(list(itertools.product((vartype.low, vartype.high), repeat=n)), dtype=float).reshape(-1, n)


def explicit_hopfield_energy(w: np.ndarray, b: np.ndarray, c: float, v: np.ndarray) -> float:
    return float(-0.5 * v @ w @ v - b @ v + c)


@st.composite
def models(draw, max_n: int = 7):
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    vartype = draw(st.sampled_from(list(Vartype)))
    density = draw(st.sampled_from([0.3, 1.0]))
    return random_energy(n, seed, vartype, density, integer=draw(st.booleans()))


@given(models())
@settings(max_examples=60, deadline=None)
def test_spin_and_binary_forms_give_equal_energies(energy):
    n = energy.num_variables
    other = energy.to_binary() if energy.vartype is Vartype.SPIN else energy.to_spin()
    states = all_states(n, energy.vartype)
    mapped = (states + 1) / 2 if energy.vartype is Vartype.SPIN else 2 * states - 1
    np.testing.assert_allclose(energy.energies(states), other.energies(mapped), atol=1e-9)
    back = other.to_vartype(energy.vartype)
    np.testing.assert_allclose(energy.energies(states), back.energies(states), atol=1e-9)


@given(models())
@settings(max_examples=40, deadline=None)
def test_qubo_form_reproduces_energy(energy):
    q, offset = energy.to_qubo()
    q = q.toarray()
    np.testing.assert_allclose(q, q.T)
    bits = all_states(energy.num_variables, Vartype.BINARY)
    expected = energy.to_binary().energies(bits)
    np.testing.assert_allclose(np.einsum("si,ij,sj->s", bits, q, bits) + offset, expected, atol=1e-9)
    assert np.allclose(Energy.from_qubo(q, offset).energies(bits), expected)


def test_hopfield_convention_matches_the_formula():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(5, 5))
    w = w + w.T
    np.fill_diagonal(w, 0)
    b = rng.normal(size=5)
    energy = Energy.from_hopfield(w, b, 1.5)
    for s in all_states(5, Vartype.SPIN):
        assert np.isclose(energy.energy(s), explicit_hopfield_energy(w, b, 1.5, s))
        h = w @ s + b
        np.testing.assert_allclose(energy.fields(s)[0], h)
        np.testing.assert_allclose(energy.flip_deltas(s), 2 * s * h)


def test_dimod_ising_convention_is_the_negation():
    h = np.array([0.5, -1.0, 0.0])
    j = {(0, 1): 2.0, (1, 2): -0.5}
    jm = np.zeros((3, 3))
    for (a, b), v in j.items():
        jm[a, b] = v
    energy = Energy.from_ising(h, jm, 0.25)
    for s in all_states(3, Vartype.SPIN):
        expected = h @ s + sum(v * s[a] * s[b] for (a, b), v in j.items()) + 0.25
        assert np.isclose(energy.energy(s), expected)


@given(models(max_n=6))
@settings(max_examples=30, deadline=None)
def test_flip_deltas_equal_energy_differences(energy):
    rng = np.random.default_rng(0)
    state = rng.choice([energy.vartype.low, energy.vartype.high], energy.num_variables).astype(float)
    deltas = energy.flip_deltas(state)
    for i in range(energy.num_variables):
        flipped = state.copy()
        flipped[i] = energy.vartype.low + energy.vartype.high - flipped[i]
        assert np.isclose(deltas[i], energy.energy(flipped) - energy.energy(state), atol=1e-9)


@pytest.mark.parametrize("vartype", list(Vartype))
def test_group_square_term_equals_its_matrix_and_has_multilinear_fields(vartype):
    groups = np.array([0, 0, 0, 1, 1, -1, 2])
    term = GroupSquareTerm.build("row", groups, [1.0, 2.0, 0.5], scale=1.7, offset=0.3)
    energy = Energy(vartype, (term,))
    materialised = Energy(vartype, (term.quadratic(vartype),))
    states = all_states(len(groups), vartype)
    np.testing.assert_allclose(energy.energies(states), materialised.energies(states), atol=1e-9)
    expected = 1.7 * sum((states[:, groups == g].sum(axis=1) - t) ** 2 for g, t in enumerate([1, 2, 0.5])) + 0.3
    np.testing.assert_allclose(energy.energies(states), expected)
    rng = np.random.default_rng(1)
    graded = rng.uniform(vartype.low, 1, (4, len(groups)))  # real-valued states: multilinear extension
    np.testing.assert_allclose(energy.energies(graded), materialised.energies(graded), atol=1e-9)
    np.testing.assert_allclose(energy.fields(graded), materialised.fields(graded), atol=1e-9)
    other = vartype is Vartype.SPIN and Vartype.BINARY or Vartype.SPIN
    mapped = (states + 1) / 2 if vartype is Vartype.SPIN else 2 * states - 1
    np.testing.assert_allclose(energy.to_vartype(other).energies(mapped), expected, atol=1e-9)


def test_reweighted_changes_weights_without_reencoding():
    objective = QuadraticTerm.build("objective", np.array([[0, 1.0], [1.0, 0]]), [0.0, 0.0])
    penalty = GroupSquareTerm.build("row", [0, 0], [1.0])
    energy = Energy(Vartype.BINARY, (objective, penalty))
    heavier = energy.reweighted(row=5.0)
    assert heavier.terms[1] is energy.terms[1]
    assert heavier.weights == {"objective": 1.0, "row": 5.0}
    state = np.array([1, 1])
    assert heavier.energy(state) == pytest.approx(-1.0 + 5.0 * 1.0)
    assert heavier.violations(state) == {"row": 1.0}
    assert heavier.violations(np.array([1, 0])) == {"row": 0.0}
    with pytest.raises(ParameterError, match="unknown weight 'colum'"):
        energy.reweighted(colum=1.0)
    with pytest.raises(ParameterError, match="finite"):
        energy.reweighted(row=float("nan"))


def test_invalid_parts_are_rejected():
    with pytest.raises(ParameterError, match="symmetric"):
        Energy.from_hopfield(np.array([[0, 1.0], [2.0, 0]]))
    with pytest.raises(ParameterError, match="zero diagonal"):
        Energy.from_hopfield(np.eye(2))
    with pytest.raises(ParameterError, match="unique"):
        t = QuadraticTerm.build("objective", np.zeros((1, 1)))
        Energy(Vartype.SPIN, (t, t))
    with pytest.raises(ParameterError, match="columns"):
        Energy.from_hopfield(np.zeros((2, 2))).energies([[1, 1, 1]])


def test_refuses_a_matrix_over_the_memory_limit(monkeypatch):
    term = GroupSquareTerm.build("total", np.zeros(2000, dtype=int), [10.0])
    energy = Energy(Vartype.BINARY, (term,))
    monkeypatch.setenv("HOPSOLVE_MAX_MATRIX_BYTES", str(10 * 1024**2))
    with pytest.raises(TooLargeError, match="couplings"):
        energy.to_hopfield()
    assert np.isfinite(energy.energy(np.ones(2000)))  # the structured form still works


def test_dimod_round_trip_keeps_energies():
    import dimod

    for vartype in Vartype:
        energy = random_energy(6, 4, vartype)
        bqm = energy.to_dimod()
        states = all_states(6, vartype)
        np.testing.assert_allclose(bqm.energies((states.astype(int), range(6))), energy.energies(states))
        back = Energy.from_dimod(bqm)
        np.testing.assert_allclose(back.energies(states), energy.energies(states))
    assert dimod.BinaryQuadraticModel is not None
    # labels survive the round trip (to_dimod named the variables 0..n-1 whatever from_dimod had read)
    bqm = dimod.BinaryQuadraticModel({"x": 1.0, ("t", 2): -0.5, "z": 0.0}, {("x", ("t", 2)): 2.0, ("z", "x"): -1.0},
                                     0.25, "BINARY")
    again = Energy.from_dimod(bqm).to_dimod()
    assert set(again.variables) == {"x", ("t", 2), "z"}
    samples = [{"x": 1, ("t", 2): 0, "z": 1}, {"x": 0, ("t", 2): 1, "z": 1}]
    np.testing.assert_allclose(again.energies(samples), bqm.energies(samples))


def test_sparse_input_and_labels():
    w = sp.csr_matrix(np.array([[0, -1.0], [-1.0, 0]]))
    energy = Energy.from_hopfield(w, [0.0, 0.0])
    assert energy.energy([1, -1]) == pytest.approx(-1.0)
    with pytest.raises(ParameterError, match="labels"):
        Energy(energy.vartype, energy.terms, labels=("a",))


@pytest.mark.parametrize("symmetric", [True, False])
def test_kronecker_fields_equal_its_matrix_fields_with_and_without_symmetry(symmetric):
    """Symmetric A and B (TSP) take the one-product shortcut; both paths must give the matrix's fields."""
    import scipy.sparse as sp

    from hopsolve.energy import KroneckerTerm

    rng = np.random.default_rng(3)
    n = 7
    a = rng.random((n, n))
    a = a + a.T if symmetric else a
    np.fill_diagonal(a, 0.0)
    cycle = np.roll(np.eye(n), 1, axis=1)
    b = sp.csr_matrix(cycle + cycle.T) if symmetric else sp.random(n, n, density=0.4, random_state=1)
    term = KroneckerTerm.build("objective", a, b, rng.random(n * n), scale=1.3)
    assert term._symmetric is symmetric
    v = rng.random((3, n * n))
    for vartype in (Vartype.BINARY, Vartype.SPIN):
        np.testing.assert_allclose(term.fields(v, vartype), term.quadratic(vartype).fields(v, vartype), atol=1e-12)


def test_kronecker_matrix_built_by_blocks_equals_scipys_kron_with_zero_distances():
    """TSP's couplings are written directly in CSR (``_regular_kron``); two coincident cities (a zero distance)
    must leave no stored zero, and the matrix must be scipy's ``-scale·(A⊗B + (A⊗B)ᵀ)``."""
    import scipy.sparse as sp

    from hopsolve.energy import KroneckerTerm

    rng = np.random.default_rng(5)
    for n in (3, 6, 17):
        a = rng.random((n, n))
        a = a + a.T
        np.fill_diagonal(a, 0.0)
        a[0, 1] = a[1, 0] = 0.0
        cycle = np.roll(np.eye(n), 1, axis=1)
        b = sp.csr_matrix(cycle + cycle.T) * 0.5
        w = KroneckerTerm.build("objective", a, b, scale=1.7).quadratic(Vartype.SPIN).coupling
        kron = sp.kron(sp.csr_matrix(a), b)
        expected = sp.csr_matrix(-1.7 * (kron + kron.T))
        expected.eliminate_zeros()
        assert w.has_sorted_indices and w.nnz == expected.nnz and not (w.data == 0).any()
        assert abs(w - expected).max() == 0.0


def test_kronecker_couplings_past_a_deadline_are_refused_before_they_are_built():
    import time

    import scipy.sparse as sp

    from hopsolve.energy import KroneckerTerm
    from hopsolve.errors import TooLargeError

    n = 64
    a = np.ones((n, n)) - np.eye(n)
    cycle = np.roll(np.eye(n), 1, axis=1)
    term = KroneckerTerm.build("objective", a, sp.csr_matrix(cycle + cycle.T))
    with pytest.raises(TooLargeError, match=r"objective.*past the 0 s a timed run allows for building it"):
        term.quadratic(Vartype.SPIN, deadline=time.perf_counter() - 1.0)
    assert term.quadratic(Vartype.SPIN, deadline=time.perf_counter() + 60.0).coupling.nnz == 2 * n * n * (n - 1)


def test_a_permutation_energys_labels_are_made_on_demand_and_equal_the_pairs():
    from hopsolve.permutation import GridLabels, permutation_energy

    n = 4
    energy = permutation_energy(np.ones((n, n)) - np.eye(n), np.eye(n))
    labels = energy.labels
    assert isinstance(labels, GridLabels) and len(labels) == n * n
    pairs = tuple((i, p) for i in range(n) for p in range(n))
    assert tuple(labels) == pairs and labels == pairs and labels[-1] == (n - 1, n - 1) and labels[5] == (1, 1)
    assert labels[1:3] == [(0, 1), (0, 2)]
    with pytest.raises(IndexError):
        labels[n * n]


def test_conversions_are_kept_and_not_pickled():
    import pickle

    energy = Energy.from_qubo(np.array([[1.0, -2.0], [0.0, 1.0]]))
    spin = energy.to_spin()
    assert energy.to_spin() is spin and spin.to_binary() is not energy
    copy = pickle.loads(pickle.dumps(energy))
    assert "_conversions" not in copy.__dict__
    np.testing.assert_array_equal(copy.to_spin().energies([[1, -1], [1, 1]]), spin.energies([[1, -1], [1, 1]]))


@pytest.mark.parametrize("source", [Vartype.BINARY, Vartype.SPIN])
def test_kronecker_conversion_equals_the_energy_of_the_converted_states(source):
    # the O(n²) cross and constant terms against the energies themselves on random states of both vartypes
    from hopsolve.energy import KroneckerTerm

    rng = np.random.default_rng(7)
    n = 5
    flow = rng.uniform(-2, 2, (n, n))  # not symmetric: both cross sums are exercised
    np.fill_diagonal(flow, 0.0)
    adjacency = sp.random(n, n, density=0.4, random_state=3, format="csr") * 3.0
    term = KroneckerTerm.build("objective", flow, adjacency, rng.uniform(-1, 1, (n, n)))
    target = Vartype.SPIN if source is Vartype.BINARY else Vartype.BINARY
    converted = term.converted(source, target)
    states = rng.choice([target.low, target.high], size=(20, n * n)).astype(float)
    as_source = (states + 1) / 2 if target is Vartype.SPIN else 2 * states - 1
    np.testing.assert_allclose(converted.energies(states, target), term.energies(as_source, source), atol=1e-9)


@pytest.mark.parametrize("density", [0.05, 1.0])  # the sparse product and the dense (BLAS) one
def test_energies_are_scored_in_blocks_as_one_state_at_a_time(density, monkeypatch):
    """Many states are scored a block of rows at a time (3000 reads of G81 at once took 1.6 GB); blocks of any
    size, a last partial one, integer states, one state as a vector and no states at all give each state the
    energy of the explicit formula, and every term its own."""
    import hopsolve.energy as energy_module

    energy = random_energy(40, 3, Vartype.SPIN, density, integer=True)
    w, b, c = energy.to_hopfield()
    states = np.random.default_rng(1).choice([-1, 1], (23, 40)).astype(np.int8)
    expected = [explicit_hopfield_energy(w, b, c, s.astype(float)) for s in states]
    terms = {name: [energy.term_energies(s[None, :].astype(float))[name][0] for s in states]
             for name in energy.term_names}
    for entries in (40, 5 * 40, 7 * 40 + 1, energy_module.ENERGY_BLOCK_ENTRIES):
        monkeypatch.setattr(energy_module, "ENERGY_BLOCK_ENTRIES", entries)
        np.testing.assert_allclose(energy.energies(states), expected, rtol=0, atol=1e-9)
        for name, values in energy.term_energies(states).items():
            np.testing.assert_allclose(values, terms[name], rtol=0, atol=1e-9)
        assert energy.energy(states[3]) == pytest.approx(expected[3])
        assert energy.energies(states[:0]).shape == (0,)
    with pytest.raises(ParameterError, match="40 columns"):
        energy.energies(states[:, :39])


def test_ising_couplings_given_in_both_triangles_add_as_in_dimod():
    """``J[i, j]`` and ``J[j, i]`` name one coupling and add, as dimod's ``(i, j)`` and ``(j, i)`` do: a symmetric J
    counts each coupling twice (the docstring said "upper or symmetric", as if both meant the same)."""
    dimod = pytest.importorskip("dimod")
    symmetric = np.array([[0.0, 1.0], [1.0, 0.0]])
    energy = Energy.from_ising([0.0, 0.0], symmetric)
    bqm = dimod.BQM.from_ising({0: 0.0, 1: 0.0}, {(0, 1): 1.0, (1, 0): 1.0})
    for s in all_states(2, Vartype.SPIN):
        assert energy.energy(s) == bqm.energy(dict(enumerate(s)))
    assert Energy.from_ising([0.0, 0.0], np.triu(symmetric)).energy([1, 1]) == 1.0
    with pytest.raises(ParameterError, match="zero diagonal"):
        Energy.from_ising([0.0, 0.0], [[1.0, 1.0], [0.0, 0.0]])  # s_i² = 1: was dropped silently


@pytest.mark.parametrize("build", [
    lambda bad: Energy.from_qubo(np.array([[bad, 1.0], [0.0, 0.0]])),
    lambda bad: Energy.from_qubo(np.array([[0.0, bad], [0.0, 0.0]])),
    lambda bad: Energy.from_qubo(np.zeros((2, 2)), offset=bad),
    lambda bad: Energy.from_ising([0.0, bad], [[0.0, 1.0], [0.0, 0.0]]),
    lambda bad: Energy.from_hopfield([[0.0, bad], [bad, 0.0]], [0.0, 0.0]),
])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coefficients_are_refused_where_the_energy_is_built(build, bad):
    """NaN and inf were taken by the constructors: the exact backend then called a state of energy inf (or nan)
    proven optimal, and tank said "the integration diverged … give a smaller dt"."""
    with pytest.raises(ParameterError, match="must be finite"):
        build(bad)


@pytest.mark.parametrize(("value", "match"), [
    (np.array([[1j, 0.0], [0.0, 1.0]]), "must be real"),
    (sp.csr_matrix(np.array([[1j, 0.0], [0.0, 1.0]])), "must be real"),
    (np.zeros((2, 2, 2)), "2-d matrix"),
    (np.array([["a", "b"], ["c", "d"]]), "matrix of numbers"),
    (sp.lil_matrix(np.array([[1j, 0.0], [0.0, 1.0]])), "must be real"),  # its data is an object array of lists
])
def test_a_qubo_matrix_that_is_not_real_and_2_d_is_refused(value, match):
    with pytest.raises(ParameterError, match=match):
        Energy.from_qubo(value)


def test_a_coupling_that_is_not_a_matrix_is_refused_in_words():
    with pytest.raises(ParameterError, match="2-d matrix"):
        Energy.from_hopfield("abc")  # was an IndexError from np.shape


def test_coefficients_whose_flip_changes_overflow_are_refused():
    """Couplings of 1e308 are finite, but a flip's energy change is not: an internal OverflowError came out of the
    integer-delta bound (a QUBO from Python is now refused sooner, as a file's is: its energy could pass 2^53)."""
    with pytest.raises(ParameterError, match="could reach inf"):
        hopsolve.solve({("a", "a"): 1e308, ("a", "b"): 1e308, ("b", "b"): 1e308}, seed=1)
    with pytest.raises(ParameterError, match="64-bit float"):
        hopsolve.solve({("a", "a"): 10**400})
    with pytest.raises(ParameterError, match="must be real"):
        hopsolve.solve(np.array([[1j, 0.0], [0.0, 1.0]]))  # was solved on the real part, with a warning


def test_numbers_numpy_holds_as_objects_are_still_taken():
    """Python ints past int64, Fractions and Decimals make object arrays; they were taken before the matrix checks
    and still are (a review caught the checks refusing them)."""
    from decimal import Decimal
    from fractions import Fraction

    assert Energy.from_qubo([[2**70, 0], [0, 1]]).energy([1, 0]) == float(2**70)
    assert Energy.from_qubo([[Fraction(1, 2), 0], [0, 1]]).energy([1, 1]) == 1.5
    assert Energy.from_qubo([[Decimal("1.5"), 0], [0, 1]]).energy([1, 1]) == 2.5


def test_biases_and_states_that_cannot_be_numbers_or_do_not_fit_are_named():
    """A bias list of the wrong length was blamed on the matrix ('quadratic part must be 2×2, got (3, 3)'), and
    letters among biases or states were bare ``ValueError``s from numpy."""
    with pytest.raises(ParameterError, match="2 biases for a 3×3 coupling matrix"):
        Energy.from_hopfield(np.zeros((3, 3)), [1.0, 2.0])
    with pytest.raises(ParameterError, match="2 biases for a 3×3 coupling matrix"):
        Energy.from_ising([1.0, 2.0], np.zeros((3, 3)))
    with pytest.raises(ParameterError, match=r"its linear part \(the biases\) must be numbers"):
        Energy.from_hopfield([[0.0]], ["a"])
    with pytest.raises(ParameterError, match="states must be numbers"):
        Energy.from_qubo(np.eye(2)).energies([["a", "b"]])


def test_a_sample_set_refuses_a_fractional_work_count_and_says_when_it_has_no_best():
    from hopsolve.sampleset import SampleSet

    energy = Energy.from_qubo(np.eye(2))
    with pytest.raises(ParameterError, match="whole number"):
        SampleSet.from_states(energy, np.zeros((1, 2), np.int8), work=3.7)  # was kept as 3
    assert SampleSet.from_states(energy, np.zeros((1, 2), np.int8), work=np.int64(3)).work == 3
    with pytest.raises(ParameterError, match="no reads"):
        _ = SampleSet.from_states(energy, np.zeros((0, 2), np.int8)).best  # numpy: "argmin of an empty sequence"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), spin=st.booleans())
def test_flip_deltas_are_single_flip_changes_with_a_square_extension_group_term(seed, spin):
    """The square extension's fields keep a self-coupling that only graded units feel: flip_deltas and synchronous
    Hopfield updates used them on discrete states (a global minimum was left for a 2-cycle on the TSP energy)."""
    rng = np.random.default_rng(seed)
    n = 6
    groups = rng.integers(-1, 2, n)
    energy = Energy(Vartype.BINARY, (
        QuadraticTerm.build("objective", (lambda w: w + w.T)(np.triu(rng.normal(size=(n, n)), 1)), rng.normal(size=n)),
        GroupSquareTerm.build("total", groups, rng.integers(0, 3, 2).astype(float), scale=rng.uniform(0.5, 2),
                              extension="square")))
    energy = energy.to_spin() if spin else energy
    state = rng.integers(0, 2, n) * (2 if spin else 1) - (1 if spin else 0)
    flipped = [np.where(np.arange(n) == i, -state if spin else 1 - state, state) for i in range(n)]
    expected = [energy.energy(f) - energy.energy(state) for f in flipped]
    np.testing.assert_allclose(energy.flip_deltas(state), expected, atol=1e-9)


def test_synchronous_hopfield_stays_at_a_minimum_of_an_energy_with_a_square_extension_term():
    e = Energy(Vartype.BINARY, (QuadraticTerm.build("objective", np.zeros((3, 3)), [0.0, 0.5, 0.0]),
                                GroupSquareTerm.build("total", [0, 0, 0], [1.0], extension="square")))
    hopfield = hopsolve.build_registry().backend("hopfield")
    samples = hopfield.solve(e, {"mode": "sync"}, seed=1, initial_states=[[1, 0, 0]])
    assert samples.states[0].tolist() == [1, 0, 0] and samples.per_read["outcome"] == ["fixed_point"]


def test_symmetry_is_judged_pair_by_pair_and_what_rounding_leaves_is_symmetrised():
    """The tolerance was relative to the matrix's largest entry: W[1,2] = 1 beside W[2,1] = 0 was stored as it was
    where another entry was 1e9, and the energy's forms, each reading one triangle, disagreed by 1."""
    with pytest.raises(ParameterError, match="must be symmetric"):
        Energy.from_hopfield(np.array([[0, 1e9, 0], [1e9, 0, 1.0], [0, 0, 0]]), [0, 0, 0.4], 0.0, "spin")
    rounded = Energy.from_hopfield(np.array([[0, 1.0, 2.0], [1.0 + 1e-12, 0, 3.0], [2.0, 3.0, 0]]))
    coupling = rounded.terms[0].coupling.toarray()
    assert (coupling == coupling.T).all()


@pytest.mark.parametrize("build, message", [
    (lambda: hopsolve.KroneckerTerm.build("objective", [[0, np.nan], [1, 0]], np.eye(2)), "must be finite"),
    (lambda: hopsolve.KroneckerTerm.build("o", np.zeros((2, 2)), np.eye(2), [np.inf, 0, 0, 0]), "must be finite"),
    (lambda: hopsolve.KroneckerTerm.build("o", np.zeros((2, 2)), np.eye(2), [1, 2, 3]), "n² = 4 entries"),
    (lambda: hopsolve.KroneckerTerm.build("o", [[0, 1j], [1, 0]], np.eye(2)), "must be real"),
    (lambda: GroupSquareTerm.build("objective", [0, 0, 1], [np.nan, 1]), "must be finite"),
    (lambda: GroupSquareTerm.build("o", [0, 0], [1], scale=np.nan), "must be finite"),
    (lambda: GroupSquareTerm.build("o", [0.9, 0.9, 1.9], [1, 1]), "whole numbers"),
    (lambda: GroupSquareTerm.build("o", ["a"], [1]), "must be numbers"),
    (lambda: hopsolve.PatternTerm.build("objective", [[1, -1]], scale=np.nan), "must be finite"),
    (lambda: hopsolve.PatternTerm.build("objective", [[1, -1]], kind="exp", beta="a"), "beta must be a number"),
    (lambda: hopsolve.permutation_energy([[0, np.nan], [1, 0]], np.eye(2)), "flow matrix must be finite"),
    (lambda: hopsolve.tour_energy(np.zeros((3, 3))), "takes a hopsolve.Metric"),
    (lambda: Energy.from_hopfield(np.array([[0, 1.0], [1, 0]]), 3.0), "biases for a 2×2"),
    (lambda: Energy.from_hopfield([[0, 1], [1]]), "rectangular array"),
    (lambda: Energy.from_qubo([[1.0]], "a"), "offset must be a number"),
    (lambda: Energy.from_ising(["a", "b"], np.zeros((2, 2))), "must be numbers"),
    (lambda: Energy(Vartype.SPIN, ("x",)), "must be hopsolve terms"),
    (lambda: Energy(Vartype.BINARY, (QuadraticTerm.build("objective", np.zeros((3, 3))),),
                    slacks=hopsolve.SlackBlocks.from_blocks([([0, 1], [1, 2], 2, [2, 9], [1, 1])])),
     "slack blocks name unit 9 of 3"),
    (lambda: hopsolve.SlackBlocks.from_blocks([([0, 1], [1.5, 2], 2, [2], [1])]), "whole numbers"),
    (lambda: Energy.from_qubo(np.eye(2)).energy(np.zeros((0, 2))), "give one state"),
    (lambda: Energy.from_qubo(np.eye(2)).violations(np.ones((2, 2))), "give one state"),
    (lambda: Energy.from_qubo(np.eye(2)).energies([[0, 1], [1]]), "rectangular array"),
])
def test_what_a_term_or_an_energy_cannot_use_is_refused_in_one_line(build, message):
    """NaN and inf were taken by every term but QuadraticTerm (exact then called a NaN state proven optimal), and
    strings, complex numbers, ragged lists, fractional group ids and out-of-range slack units reached numpy's or a
    kernel's own errors, or were truncated in silence."""
    with pytest.raises(ParameterError, match=re.escape(message)):
        build()


@pytest.mark.parametrize("backend", ["hopfield", "anneal", "replica", "bifurcation", "tank", "exact"])
def test_ragged_or_empty_initial_states_are_refused_in_one_line(backend):
    """A ragged list reached numpy's ValueError, no rows gave an empty sample set, and exact (which starts from
    nothing) took any initial states and a seed of 'x' in silence."""
    energy = Energy.from_qubo(np.array([[1.0, -2.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 0.5]]))
    solver = hopsolve.build_registry().backend(backend)
    for bad in ([[0, 1, 0], [1]], np.zeros((0, 3))):
        with pytest.raises(ParameterError, match="initial states"):
            solver.solve(energy, seed=1, initial_states=bad)
    with pytest.raises(ParameterError, match="seed"):
        solver.solve(energy, seed="x")
