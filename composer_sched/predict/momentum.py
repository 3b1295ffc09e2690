r"""The momentum law of Tissue et al. (2024), "Scaling Law with Learning Rate Annealing" (arXiv 2408.11029).

.. math::
    L(s) = L_0 + A\,S_1(s)^{-\alpha} - C\,S_2(s),\qquad
    S_1(s) = \sum_{i<s} \eta_i,\qquad S_2(s) = \sum_{i<s} m_i,\qquad m_i = \lambda\,m_{i-1} + (\eta_{i-1} - \eta_i)

with :math:`\eta` the LR divided by its peak, :math:`m_i = 0` up to the peak (the warm-up is not annealing), and
:math:`S_1, S_2` measured in units of the longest fitted run's length :math:`T` (so :math:`A, C` are O(1)).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from scipy.optimize import minimize, minimize_scalar, nnls
from scipy.signal import lfilter

from composer_sched.predict._law import (
    Candidate,
    LawFit,
    check_knobs,
    check_runs,
    fit_points,
    huber,
    lr_drops,
    one_blas_thread,
)
from composer_sched.predict._runs import Run

__all__ = ['MomentumLawFit', 'fit_momentum_law', 'momentum_areas', 'momentum_law']

MEMORY_GRID = tuple(np.geomspace(1e-3, 1.0, 24))  # 1 / (1 - lambda), as a fraction of the longest run
ALPHA_GRID = tuple(np.geomspace(0.05, 2.0, 40))  # exponents profiled by non-negative least squares
POLISHED = 4  # memories on the grid whose fits are polished by L-BFGS-B (those with the best scans)


def momentum_areas(lr, lam: float):
    r"""The forward area :math:`S_1` and annealing area :math:`S_2` after every number of batches ``0..len(lr)``.

    Args:
        lr: per-batch LR; it is divided by its peak.
        lam: the momentum factor :math:`\lambda`, in ``[0, 1)``.

    Returns:
        ``(S1, S2)``, two arrays of ``len(lr) + 1`` values (in batches at the peak LR).

    Raises:
        ValueError: ``lam`` outside ``[0, 1)``, or an empty, non-finite or all-zero ``lr``.

    Example:
        >>> S1, S2 = momentum_areas([1, 1, 0.5, 0.0], lam=0.5)
        >>> S1.tolist(), S2.tolist()
        ([0.0, 1.0, 2.0, 2.5, 2.5], [0.0, 0.0, 0.0, 0.5, 1.25])
    """
    if not 0 <= lam < 1:
        raise ValueError(f'lam must be in [0, 1), got {lam!r}')
    _, S1, drop = lr_drops(lr)
    return S1, _annealing_area(drop, lam)


def momentum_law(lr, steps, *, L0: float, A: float, alpha: float, C: float, lam: float, scale: float) -> np.ndarray:
    r"""The momentum law's loss after each of ``steps`` batches of a run with per-batch LR ``lr``.

    :math:`L_0 + A (S_1/T)^{-\alpha} - C S_2/T` with :math:`T` = ``scale`` (see :func:`momentum_areas`).

    Example:
        >>> lr = np.r_[np.ones(80), np.linspace(1, 0, 21)[1:]]
        >>> momentum_law(lr, [50, 100], L0=2, A=0.5, alpha=0.5, C=2, lam=0.99, scale=100).round(4).tolist()
        [2.7071, 2.3312]
    """
    S1, S2 = momentum_areas(lr, lam)
    steps = np.asarray(steps, dtype=np.int64)
    return L0 + A * np.maximum(S1[steps] / scale, 1e-12) ** -alpha - C * S2[steps] / scale


class MomentumLawFit(LawFit):
    """A fitted momentum law (see :func:`fit_momentum_law`); ``params`` of a candidate: ``L0, A, alpha, C, lam``."""
    law = 'momentum'

    def _curve(self, lr, steps, params=None) -> np.ndarray:
        return momentum_law(lr, steps, **(params or self.best.params), scale=self.scale)

    def end_values(self, lr, candidates, at=None) -> np.ndarray:
        # Candidates share few values of lambda: compute each one's areas once.
        at = len(lr) if at is None else at
        out = np.empty(len(candidates))
        areas = {}
        for i, c in enumerate(candidates):
            p = c.params
            if p['lam'] not in areas:
                S1, S2 = momentum_areas(lr, p['lam'])
                areas[p['lam']] = (max(S1[at] / self.scale, 1e-12), S2[at] / self.scale)
            s1, s2 = areas[p['lam']]
            out[i] = p['L0'] + p['A'] * s1 ** -p['alpha'] - p['C'] * s2
        return out


def _annealing_area(drop: np.ndarray, lam: float) -> np.ndarray:
    """:math:`S_2` after every number of batches, from the per-batch drops of :func:`lr_drops`."""
    return np.r_[0.0, np.cumsum(lfilter([1.0], [1.0, -lam], drop))]


class _Scan:
    """What every memory of one fit shares (the points, their forward areas and the powers of those on the alpha
    grid), computed once per fit: the fit profiles about 30 memories, and only :math:`S_2` depends on one."""

    def __init__(self, s1: np.ndarray, y: np.ndarray, delta: float):
        self.s1, self.y, self.delta, self.n = s1, y, delta, y.size
        self.logy, self.log_s1, self.ymax = np.log(y), np.log(s1), y.max()
        self.alphas = np.array(ALPHA_GRID)
        self.powers = s1 ** -self.alphas[:, None]  # row j: the same numbers as s1 ** -ALPHA_GRID[j]
        self.scaled = self.powers / y              # row j: the NNLS column of alpha j
        self.first = np.ones(self.n) / y

    def values(self, th: np.ndarray, s2) -> np.ndarray:
        """The objective alone (no gradient) of every row ``(L0, A, alpha, C)`` of ``th``, alpha the grid's in
        order: one array operation for the grid instead of one per alpha (each row's numbers are the same)."""
        L0, A, C = th[:, :1], th[:, 1:2], th[:, 3:]
        yh = np.maximum(L0 + A * self.powers - C * s2, 1e-12)
        return huber(np.log(yh) - self.logy, self.delta)[0].sum(1) / self.n

    def fit(self, s2, polish):
        """Candidate (objective, (L0, A, alpha, C)) for fixed areas: for every alpha on the grid, the non-negative
        least-squares fit of the relative residuals; with ``polish``, also L-BFGS-B on all four parameters from the
        two best of them."""
        s1, logy, log_s1, n, delta = self.s1, self.logy, self.log_s1, self.n, self.delta

        def objective(th):
            L0, A, alpha, C = th
            p = s1 ** -alpha
            yh = np.maximum(L0 + A * p - C * s2, 1e-12)
            h, dh = huber(np.log(yh) - logy, delta)
            g = dh / yh / n
            return h.sum() / n, np.array([g.sum(), g @ p, g @ (-A * p * log_s1), -(g @ s2)])

        M = np.empty((n, 3))
        M[:, 0], M[:, 2] = self.first, -s2 / self.y
        rhs = np.ones(n)
        th = np.empty((len(ALPHA_GRID), 4))
        for j, alpha in enumerate(ALPHA_GRID):
            M[:, 1] = self.scaled[j]
            x, _ = nnls(M, rhs)
            th[j] = min(x[0], self.ymax), x[1], alpha, x[2]
        scans = [(float(v), t) for v, t in zip(self.values(th, s2), th)]
        out = list(scans)
        scans.sort(key=lambda t: t[0])
        bounds = [(0, self.ymax), (0, None), (1e-3, 3.0), (0, None)]
        for _, x0 in scans[:2] if polish else ():
            r = minimize(objective, x0, jac=True, method='L-BFGS-B', bounds=bounds,
                         options=dict(maxiter=500, ftol=1e-12, gtol=1e-9))
            out.append((float(r.fun), r.x))
        return out


def fit_momentum_law(runs: Sequence[Run], *, memory_grid: Optional[Sequence[float]] = None,
                     huber_delta: float = 1e-3, skip: float = 0.05, band_tol: float = 0.25,
                     max_extrapolation: float = 2.0) -> MomentumLawFit:
    r"""Fit the momentum law :math:`L = L_0 + A S_1^{-\alpha} - C S_2` to one or more runs of one recipe.

    The objective is the mean Huber loss (threshold ``huber_delta``) of :math:`\log \hat L - \log L` over every
    loss point (:meth:`Run.points`) after ``skip`` times the longest run :math:`T` and after the warm-up,
    minimised over :math:`L_0 \in [0, \max L], A, C \ge 0, \alpha \in [0.001, 3]`. :math:`\lambda` is profiled
    over memories :math:`\tau = 1/(1-\lambda)` on ``memory_grid`` (fractions of :math:`T`: the useful
    :math:`\lambda` depends on the run length, so the grid is relative to it). For each memory, a non-negative
    least-squares scan over 40 values of :math:`\alpha` (relative residuals) gives starting points; at the 4
    memories with the best scans, L-BFGS-B polishes the two best starts; then a bounded scalar search of
    :math:`\log\tau` between the best polished memory's neighbours does the same at each memory it tries.
    Every fit, scanned or polished, is a candidate; the band of a prediction spans the candidates within
    ``(1 + band_tol)`` of the best objective.

    Args:
        runs: one or more :class:`Run` of one recipe (same peak LR); at least one with loss points inside its
            cool-down.
        memory_grid: memories :math:`\tau / T`, each in ``(0, 10]`` (default: 24 log-spaced values from 0.001
            to 1).
        huber_delta: Huber threshold on log-loss residuals, ``> 0`` (default 1e-3).
        skip: fraction of :math:`T` whose loss points are ignored, in ``[0, 1)`` (default 0.05).
        band_tol: relative objective tolerance of the band, ``>= 0`` (default 0.25: for small residuals the
            objective is quadratic, so the band's fits have an RMS log-residual within about 12% of the best's).
        max_extrapolation: how much longer than the fitted runs (and their cool-downs) a target may be, ``>= 1``.

    Returns:
        A :class:`MomentumLawFit`; ``.predict(lr)`` gives a :class:`Prediction`.

    Raises:
        ValueError: an argument outside its range, runs with different peak LRs, too few points, or no loss
            point inside a cool-down.

    Example:
        >>> import numpy as np
        >>> def wsd(T, frac=0.2):
        ...     return np.minimum(1.0, (T - np.arange(T)) / (frac * T))
        >>> truth = dict(L0=2.0, A=0.5, alpha=0.5, C=2.0, lam=0.99, scale=1000)
        >>> steps = np.arange(100, 1001, 20)
        >>> run = Run(wsd(1000), eval_loss=(steps, momentum_law(wsd(1000), steps, **truth)))
        >>> fit = fit_momentum_law([run])
        >>> pred = fit.predict(wsd(500))          # a ratio-0.5 run of the same recipe
        >>> round(pred.loss, 2), round(float(momentum_law(wsd(500), [500], **truth)[0]), 2)
        (2.67, 2.67)
        >>> fit.predict(np.cos(np.linspace(0, np.pi / 2, 500)))
        Traceback (most recent call last):
        ...
        ValueError: lr: its cool-down's shape (max distance ...) matches none of the fitted runs' cool-downs ...
    """
    runs = check_runs(runs, 1, 'momentum')
    grid: Sequence[float] = MEMORY_GRID if memory_grid is None else tuple(memory_grid)
    if not grid or not all(0 < g <= 10 for g in grid):
        raise ValueError(f'memory_grid must be a non-empty sequence of fractions in (0, 10], got {memory_grid!r}')
    check_knobs(huber_delta=huber_delta, skip=skip, band_tol=band_tol, max_extrapolation=max_extrapolation)
    points = fit_points(runs, skip)
    scale = float(max(r.shape.length for r in runs))
    y = np.concatenate([loss for _, loss in points])
    candidates: list[Candidate] = []
    drops = [lr_drops(r.lr) for r in runs]  # S1 and the drops do not depend on the memory
    scan = _Scan(np.concatenate([S1[s] for (_, S1, _), (s, _) in zip(drops, points)]) / scale, y, huber_delta)

    def profile(tau, polish=True):
        lam = max(0.0, 1.0 - 1.0 / (tau * scale))
        s2 = np.concatenate([_annealing_area(drop, lam)[s] for (_, _, drop), (s, _) in zip(drops, points)]) / scale
        fits = scan.fit(s2, polish)
        candidates.extend(Candidate(obj, dict(L0=L0, A=A, alpha=alpha, C=C, lam=lam))
                          for obj, (L0, A, alpha, C) in fits)
        return min(obj for obj, _ in fits)

    with one_blas_thread():  # thousands of tiny BLAS calls (see one_blas_thread)
        grid = sorted(grid)
        scanned = [profile(tau, polish=False) for tau in grid]
        polished = {i: profile(grid[i]) for i in np.argsort(scanned)[:POLISHED]}
        best = min(polished, key=lambda i: polished[i])
        if len(grid) > 1:  # refine the memory between the best grid point's neighbours (log scale)
            lo, hi = np.log(grid[max(best - 1, 0)]), np.log(grid[min(best + 1, len(grid) - 1)])
            minimize_scalar(lambda v: profile(np.exp(v)), bounds=(lo, hi), method='bounded',
                            options=dict(xatol=0.05, maxiter=8))
    return MomentumLawFit(runs, candidates, scale=scale, band_tol=band_tol, max_extrapolation=max_extrapolation,
                          skip=skip)
