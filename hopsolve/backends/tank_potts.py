"""Mean-field annealing for ``tank``: the energy the softmax units descend and the critical temperature the
schedule starts from.

``tank`` uses ``potts`` units (Peterson & Söderberg 1989), a softmax over every one-hot group (the rows of a
permutation). The valid-subspace alternative of Aiyer, Niranjan & Fallside (1990), rows *and* columns held at one
(e.g. by Sinkhorn normalisation, the "softassign" of Gold & Rangarajan 1996), is not implemented: a first
experiment with it was too slow as written and was removed rather than left unreachable (RESULTS §11).

With every one-hot group a softmax ``V_g = softmax(u_g/u₀)``, a penalty that only asks a group to hold one unit
(``A·row`` of a tour, Lucas' row term) is constant on the states the network can end in: inside the simplex it
only adds a self-coupling that pushes every unit towards 0 or 1 whatever the distances say, and makes the network
commit early. :func:`softmax_energy` drops those terms; the other terms (distances, columns, flows) are kept.

The critical gain: around the uniform state ``V_g = 1/K_g`` the softmax has Jacobian ``S/u₀`` with
``S = ⊕_g (I − 11ᵀ/K_g)/K_g``, so small deviations of ``du/dt = −u/τ + W V + b`` grow iff an eigenvalue of
``W S/u₀`` exceeds ``1/τ``. The largest gain at which the network still does something is therefore

    u₀c = τ · λ_max(S^½ W S^½),

computed by Lanczos (scipy's ``eigsh``) on products ``W x = h(x) − h(0)`` of the energy's own fields, so it works
for every term, structured or not. Above u₀c the uniform state is stable and nothing happens; the schedule starts
there and cools geometrically (see ``TankParams.cooling``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from hopsolve.energy import Energy, GroupSquareTerm, LazyTerm, OneHotGroups, Term
from hopsolve.errors import ParameterError


def _group_labels(groups: OneHotGroups, n: int) -> np.ndarray:
    labels = np.full(n, -1, dtype=np.int64)
    labels[groups.members] = np.repeat(np.arange(groups.count), groups.sizes)
    return labels


def _resolved(term: Term) -> Term:
    return term.term if isinstance(term, LazyTerm) else term


def enforces_groups(term: Term, labels: np.ndarray) -> bool:
    """True when ``term`` is a group-square penalty whose groups are exactly the Potts groups ``labels``."""
    term = _resolved(term)
    if not isinstance(term, GroupSquareTerm) or len(term.groups) != len(labels):
        return False
    inside = labels >= 0
    if not np.array_equal(term.groups >= 0, inside) or not inside.any():
        return False
    # the same partition iff one group of the term per label and one label per group of the term: counted in
    # O(n), not by sorting the pairs (a second at 360,000 units)
    ours, theirs = labels[inside], term.groups[inside]
    image = np.full(int(ours.max()) + 1, -1, dtype=np.int64)
    image[ours] = theirs
    if not np.array_equal(image[ours], theirs):
        return False
    used = image[image >= 0]
    return bool(np.bincount(used).max() == 1)


def softmax_energy(energy: Energy, *partitions: OneHotGroups) -> Energy:
    """``energy`` without the penalties that only enforce one of ``partitions`` (constant on one-hot states);
    unchanged when there are none (or when they are its only terms)."""
    labels = [_group_labels(groups, energy.num_variables) for groups in partitions]
    kept = tuple(t for t in energy.terms if not any(enforces_groups(t, lab) for lab in labels))
    if len(kept) == len(energy.terms) or not kept:
        return energy
    names = {t.name for t in kept}
    return dataclasses.replace(energy, terms=kept, weights={k: w for k, w in energy.weights.items() if k in names})


def critical_gain(energy: Energy, groups: OneHotGroups, tau: float, rng: np.random.Generator,
                  products: int | None = None) -> float:
    """``u₀c = τ·λ_max(S^½ W S^½)`` (module docstring); 0 when no direction is unstable at any gain. With
    ``products`` (a time limit's share, in field products) Lanczos is held to about that many, and a run that
    has not converged by then takes its best Ritz value: a lower estimate, so the schedule starts a little below
    the critical gain, where the network has begun to move."""
    return critical_gain_and_exactness(energy, groups, tau, rng, products)[0]


def critical_gain_and_exactness(energy: Energy, groups: OneHotGroups, tau: float, rng: np.random.Generator,
                                products: int | None = None) -> tuple[float, bool]:
    """:func:`critical_gain`, and whether it is the very value a run without ``products`` computes (bit for bit:
    the same Lanczos basis, converged within the budget). A timed run's replay is only a replay when it is: at a
    few steps the outputs sit near their uniform start, and a gain 10⁻¹² apart changed assign300's answer by 8%."""
    n = energy.num_variables
    members = groups.members
    if not len(members):
        return 0.0, True
    labels = _group_labels(groups, n)[members]
    sizes = groups.sizes[labels].astype(np.float64)
    zero = np.zeros((1, n))
    base = energy.fields(zero)[0]

    def half(y: np.ndarray) -> np.ndarray:  # S^½ y on the members: (y − group mean)/√K
        means = np.bincount(labels, weights=y, minlength=groups.count) / np.maximum(groups.sizes, 1)
        return (y - means[labels]) / np.sqrt(sizes)

    def product(y: np.ndarray) -> np.ndarray:
        x = zero.copy()
        x[0, members] = half(np.asarray(y, dtype=np.float64).ravel())
        return half((energy.fields(x)[0] - base)[members])

    dim = len(members)
    exact = True
    if dim <= 64:  # small: the dense matrix, exactly
        matrix = np.stack([product(e) for e in np.eye(dim)], axis=1)
        _check_finite(matrix)
        top = float(np.linalg.eigvalsh(0.5 * (matrix + matrix.T))[-1])
    else:
        start = rng.standard_normal(dim)
        probe = product(start)
        _check_finite(probe)
        if not probe.any():  # no coupling between the groups' directions (a linear objective, its penalties
            return 0.0, True  # weighted 0): no gain is critical, and ARPACK refuses the zero operator
        operator = LinearOperator((dim, dim), matvec=product, dtype=np.float64)
        basis = min(LANCZOS_BASIS, dim)  # scipy's own default for one eigenvalue, given so both runs share it
        limits: dict = {"ncv": basis}
        if products is not None:
            limits = {"ncv": int(min(basis, max(3, products // 2)))}
            limits["maxiter"] = max(1, products // limits["ncv"])
            exact = limits["ncv"] == basis
        try:
            top = float(eigsh(operator, k=1, which="LA", tol=1e-3, v0=start, return_eigenvectors=False,
                              **limits)[0])
        except ArpackNoConvergence as exc:  # the best Ritz value so far is a fine estimate of a start temperature
            top = float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else 0.0
            exact = False
        except ArpackError as exc:
            raise ParameterError(f"backend 'tank': the critical gain could not be computed ({exc}); "
                                 "give schedule=fixed and a gain u0") from None
    return max(tau * top, 0.0), exact


LANCZOS_BASIS = 20
"""Lanczos vectors for the critical gain's eigenvalue (scipy's default for one eigenvalue, at most the dimension)."""


def _check_finite(values: np.ndarray) -> None:
    if not np.isfinite(values).all():
        raise ParameterError("backend 'tank': the energy's couplings overflow (a weight too large?): the critical "
                             "gain is not a finite number")
