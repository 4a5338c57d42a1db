"""Mean-field annealing for ``tank``: the energy the softmax units descend, the critical temperature the schedule
starts from, and the doubly stochastic (Sinkhorn) outputs of permutation energies.

``tank`` uses ``potts`` units (Peterson & Söderberg 1989), a softmax over every one-hot group (the rows of a
permutation). :func:`sinkhorn` is an experiment not wired into the backend (too slow as written; RESULTS §11): on
a permutation layout, ``V = Sinkhorn(exp(u/u₀))``, the doubly stochastic
matrix nearest (in relative entropy) to the softmax, so rows *and* columns sum to one at all times — the network
moves inside the valid subspace of Aiyer, Niranjan & Fallside (1990) by an entropic rather than a linear
projection, the "softassign" of Gold & Rangarajan (1996). ``V`` then minimises ``-⟨u, V⟩ + u₀ Σ V ln V`` over
the doubly stochastic matrices, so ``E(V) + (u₀/τ) Σ V ln V`` would be a Lyapunov function of ``du/dt = -u/τ + h(V)``
at a fixed gain, as it is for Potts rows.

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
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from hopsolve.energy import Energy, GroupSquareTerm, LazyTerm, OneHotGroups, Term


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
    pairs = np.unique(np.stack([labels[inside], term.groups[inside]]), axis=1)
    return pairs.shape[1] == len(np.unique(labels[inside])) == len(np.unique(term.groups[inside]))


def layout_groups(energy: Energy, columns: bool = False) -> OneHotGroups:
    """The rows (or the columns) of ``energy``'s permutation layout as one-hot groups."""
    index = energy.layout.indices()
    index = index.T if columns else index
    return OneHotGroups(np.ascontiguousarray(index).ravel(), np.arange(index.shape[0] + 1) * index.shape[1])


def softmax_energy(energy: Energy, *partitions: OneHotGroups) -> Energy:
    """``energy`` without the penalties that only enforce one of ``partitions`` (constant on one-hot states);
    unchanged when there are none (or when they are its only terms)."""
    labels = [_group_labels(groups, energy.num_variables) for groups in partitions]
    kept = tuple(t for t in energy.terms if not any(enforces_groups(t, lab) for lab in labels))
    if len(kept) == len(energy.terms) or not kept:
        return energy
    names = {t.name for t in kept}
    return dataclasses.replace(energy, terms=kept, weights={k: w for k, w in energy.weights.items() if k in names})


def sinkhorn(u: np.ndarray, gain: float, index: np.ndarray, iterations: int = 200, tolerance: float = 1e-6
             ) -> np.ndarray:
    """``Sinkhorn(exp(u/gain))`` on the ``m × m`` grid ``index`` of every read (log domain, so any gain is safe):
    rows and columns are normalised in turn until every column sum is within ``tolerance`` of 1."""
    logits = u[:, index] / gain  # reads × m × m
    for _ in range(iterations):
        logits = logits - _logsumexp(logits, axis=2)[:, :, None]
        logits = logits - _logsumexp(logits, axis=1)[:, None, :]
        rows = np.exp(logits).sum(axis=2)
        if np.abs(rows - 1.0).max(initial=0.0) < tolerance:
            break
    v = np.array(u, dtype=np.float64)
    v[:, index] = np.exp(logits)
    return v


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def critical_gain(energy: Energy, groups: OneHotGroups, tau: float, rng: np.random.Generator,
                  doubly: bool = False) -> float:
    """``u₀c = τ·λ_max(S^½ W S^½)`` (module docstring); 0 when no direction is unstable at any gain. With
    ``doubly`` (Sinkhorn units on an m × m layout whose rows are ``groups``) ``S = Π/m``, ``Π`` the projection
    that removes row and column means (the Jacobian of Sinkhorn at the uniform matrix)."""
    n = energy.num_variables
    members = groups.members
    if not len(members):
        return 0.0
    labels = _group_labels(groups, n)[members]
    sizes = groups.sizes[labels].astype(np.float64)
    zero = np.zeros((1, n))
    base = energy.fields(zero)[0]

    def half(y: np.ndarray) -> np.ndarray:  # S^½ y on the members: (y − group mean)/√K
        means = np.bincount(labels, weights=y, minlength=groups.count) / np.maximum(groups.sizes, 1)
        centred = y - means[labels]
        if doubly:  # members are the grid's rows one after another: remove the column means as well
            m = groups.count
            grid = centred.reshape(m, -1)
            centred = (grid - grid.mean(axis=0, keepdims=True)).ravel()
        return centred / np.sqrt(sizes)

    def product(y: np.ndarray) -> np.ndarray:
        x = zero.copy()
        x[0, members] = half(np.asarray(y, dtype=np.float64).ravel())
        return half((energy.fields(x)[0] - base)[members])

    dim = len(members)
    if dim <= 64:  # small: the dense matrix, exactly
        matrix = np.stack([product(e) for e in np.eye(dim)], axis=1)
        top = float(np.linalg.eigvalsh(0.5 * (matrix + matrix.T))[-1])
    else:
        operator = LinearOperator((dim, dim), matvec=product, dtype=np.float64)
        try:
            top = float(eigsh(operator, k=1, which="LA", tol=1e-3, v0=rng.standard_normal(dim),
                              return_eigenvectors=False)[0])
        except ArpackNoConvergence as exc:  # the best Ritz value so far is a fine estimate of a start temperature
            top = float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else 0.0
    return max(tau * top, 0.0)
