r"""The Multi-Power Law of Luo et al. (ICLR 2025), "A Multi-Power Law for Loss Curve Prediction Across
Learning Rate Schedules" (arXiv 2503.12811).

.. math::
    L(t) = L_0 + A\,(S_1(t) + S_W)^{-\alpha} - B \sum_{k \le t} (\eta_{k-1} - \eta_k)\,
           G\!\left(\eta_k^{-\gamma} S_k(t)\right),\qquad G(x) = 1 - (C x + 1)^{-\beta},\qquad
    S_k(t) = \sum_{\tau = k}^{t-1} \eta_\tau

with :math:`\eta` the LR divided by its peak, :math:`S_1 + S_W` the area under the whole curve (warm-up
included), the sum over the batches after the peak, and areas in units of the longest fitted run's length.
Each LR drop contributes a loss reduction that saturates (as a power) with the LR area trained after it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize

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
from composer_sched.predict.momentum import fit_momentum_law

__all__ = ['MultiPowerLawFit', 'fit_multi_power_law', 'multi_power_law']

_ETA_FLOOR = 1e-3   # eta_k^-gamma is evaluated at >= 1e-3 of the peak (a drop to exactly 0 would be infinite)
_CHUNKS = 64        # cool-down drops are grouped into about this many chunks (plus one boundary per loss point)
PARAMS = ('L0', 'A', 'alpha', 'B', 'C', 'beta', 'gamma')


def multi_power_law(lr, steps, *, L0: float, A: float, alpha: float, B: float, C: float, beta: float,
                    gamma: float, scale: float) -> np.ndarray:
    """The Multi-Power Law's loss after each of ``steps`` batches of a run with per-batch LR ``lr``, exact to the
    batch (areas in units of ``scale`` batches).

    Raises:
        ValueError: an empty, non-finite or all-zero ``lr``.

    Example:
        >>> lr = np.r_[np.ones(80), np.linspace(1, 0, 21)[1:]]
        >>> multi_power_law(lr, [80, 100], L0=2, A=0.5, alpha=0.5, B=0.4, C=2, beta=0.5, gamma=0.5,
        ...                 scale=100).round(4).tolist()
        [2.559, 2.5136]
    """
    eta, S1, drop = lr_drops(lr)
    k = np.flatnonzero(drop)
    out = []
    for t in np.asarray(steps, dtype=np.int64):
        kk = k[k < t]
        x = np.maximum(eta[kk], _ETA_FLOOR) ** -gamma * (S1[t] - S1[kk]) / scale
        ld = B * np.sum(drop[kk] * (1 - (C * x + 1) ** -beta))
        out.append(L0 + A * max(S1[t] / scale, 1e-12) ** -alpha - ld)
    return np.array(out)


class MultiPowerLawFit(LawFit):
    """A fitted Multi-Power Law (see :func:`fit_multi_power_law`); candidate ``params``:
    ``L0, A, alpha, B, C, beta, gamma``."""
    law = 'multi_power'

    def _curve(self, lr, steps, params=None) -> np.ndarray:
        return multi_power_law(lr, steps, **(params or self.best.params), scale=self.scale)


def _design(run: Run, steps: np.ndarray, scale: float):
    """Chunked drops of one run, for the loss points ``steps``: s1 (n,), X (n, m) areas after each chunk (0 where
    the chunk is not yet reached), eta (m,), D (m,) summed drops. Chunk boundaries include every loss step, so a
    chunk is either wholly before a loss point or wholly after it."""
    eta, S1, drop = lr_drops(run.lr)
    k = np.flatnonzero(drop)
    s1 = S1[steps] / scale
    if k.size == 0:
        return s1, np.zeros((steps.size, 0)), np.ones(0), np.zeros(0)
    cuts = np.unique(np.r_[np.linspace(k[0], k[-1] + 1, _CHUNKS + 1).astype(np.int64), steps])
    cuts = cuts[(cuts >= k[0]) & (cuts <= k[-1] + 1)]
    cuts = np.unique(np.r_[k[0], cuts, k[-1] + 1])
    seg = np.searchsorted(cuts, k, side='right') - 1
    D = np.bincount(seg, weights=drop[k], minlength=cuts.size - 1)
    kbar = np.bincount(seg, weights=drop[k] * k, minlength=cuts.size - 1) / np.maximum(D, 1e-300)
    used = D > 0
    D, kbar, start = D[used], kbar[used], cuts[:-1][used]
    E = np.maximum(np.interp(kbar, np.arange(eta.size), eta), _ETA_FLOOR)
    Sk = np.interp(kbar, np.arange(S1.size), S1) / scale
    reached = steps[:, None] > start[None, :]
    X = np.where(reached, np.maximum(s1[:, None] - Sk[None, :], 0.0), 0.0)
    return s1, X, E, D * reached


def fit_multi_power_law(runs: Sequence[Run], *, huber_delta: float = 1e-3, skip: float = 0.05,
                        band_tol: float = 0.25, max_extrapolation: float = 2.0,
                        gamma_step: float = 0.25) -> MultiPowerLawFit:
    r"""Fit the Multi-Power Law to two or more runs of one recipe (e.g. the full run and one shorter branch).

    The objective is the momentum law's (mean Huber loss, threshold ``huber_delta``, of log-loss residuals over
    the points after ``skip`` times the longest run and after the warm-up), minimised by L-BFGS-B with an analytic
    gradient over :math:`L_0 \in [0, \max L], A \ge 0, \alpha \in [0.001, 3], B \in [0, \max L],
    \log C \in [-12, 12], \beta \in [0.01, 10], \gamma \in [0, 2]`. Starts: :math:`L_0, A, \alpha` from
    :func:`fit_momentum_law` on the same runs, with two :math:`(B, C)` starts. The fit's cool-down drops are
    grouped in about 64 chunks (exact at every loss point's step); predictions sum them batch by batch.
    :math:`\gamma` is also profiled at the best :math:`\gamma \pm` ``gamma_step`` (the other six parameters refitted
    at each), and the band spans every candidate within ``(1 + band_tol)`` of the best objective.

    Args:
        runs: two or more :class:`Run` of one recipe; at least one with loss points inside its cool-down.
        huber_delta, skip, band_tol, max_extrapolation: as for :func:`fit_momentum_law`.
        gamma_step: the profile's step in :math:`\gamma`, in ``[0, 1]`` (0: no profile).

    Returns:
        A :class:`MultiPowerLawFit`; ``.predict(lr)`` gives a :class:`Prediction`.

    Raises:
        ValueError: fewer than two runs, or as :func:`fit_momentum_law`.

    Example:
        >>> import numpy as np
        >>> def wsd(T, frac):
        ...     return np.minimum(1.0, (T - np.arange(T)) / (frac * T))
        >>> truth = dict(L0=2.0, A=0.5, alpha=0.5, B=0.4, C=2.0, beta=0.6, gamma=0.5, scale=1000)
        >>> steps = np.arange(100, 1001, 25)
        >>> runs = [Run(wsd(1000, f), eval_loss=(steps, multi_power_law(wsd(1000, f), steps, **truth)))
        ...         for f in (0.1, 0.5)]
        >>> pred = fit_multi_power_law(runs).predict(wsd(1000, 0.3))  # another cool-down length
        >>> bool(abs(pred.loss - multi_power_law(wsd(1000, 0.3), [1000], **truth)[0]) < 2e-3)
        True
    """
    check_knobs(huber_delta=huber_delta, skip=skip, band_tol=band_tol, max_extrapolation=max_extrapolation,
                gamma_step=gamma_step)
    runs = check_runs(runs, 2, 'Multi-Power')
    mom = fit_momentum_law(runs, huber_delta=huber_delta, skip=skip)
    points = fit_points(runs, skip)
    scale = float(max(r.shape.length for r in runs))
    y = np.concatenate([loss for _, loss in points])
    logy, n, delta = np.log(y), y.size, huber_delta
    s1, blocks, row = [], [], 0
    for r, (steps, _) in zip(runs, points):
        s1_r, X, E, D = _design(r, steps, scale)
        s1.append(s1_r)
        rows = np.flatnonzero(D.any(1)) if D.size else np.empty(0, dtype=np.int64)
        if rows.size:  # only the loss points after a drop have an annealing term
            blocks.append((row + rows, X[rows], E, np.log(E), D[rows]))
        row += steps.size
    s1 = np.concatenate(s1)

    def objective(th, fixed_gamma=None):
        L0, A, alpha, B, logC, beta, gamma = th
        if fixed_gamma is not None:
            gamma = fixed_gamma
        C = np.exp(logC)
        p = s1 ** -alpha
        ld, d_logC, d_beta, d_gamma = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        for rows, X, E, lnE, D in blocks:
            x = E ** -gamma * X
            u = C * x + 1
            ub = u ** -beta
            ld[rows] = (D * (1 - ub)).sum(1)
            dG = D * (beta * ub / u * C * x)     # d G / d log C, times the drops
            d_logC[rows] = dG.sum(1)
            d_beta[rows] = (D * ub * np.log(u)).sum(1)
            d_gamma[rows] = -(dG * lnE).sum(1)
        yh = np.maximum(L0 + A * p - B * ld, 1e-12)
        h, dh = huber(np.log(yh) - logy, delta)
        g = dh / yh / n
        grad = np.array([g.sum(), g @ p, g @ (-A * p * np.log(s1)), -(g @ ld),
                         -B * (g @ d_logC), -B * (g @ d_beta), 0.0 if fixed_gamma is not None else -B * (g @ d_gamma)])
        return h.sum() / n, grad

    bp = mom.best.params
    bounds = [(0, y.max()), (0, None), (1e-3, 3.0), (0, y.max()), (-12, 12), (0.01, 10), (0, 2)]
    candidates = []

    def run_from(x0, fixed_gamma=None):
        r = minimize(objective, x0, args=(fixed_gamma,), jac=True, method='L-BFGS-B', bounds=bounds,
                     options=dict(maxiter=1000, ftol=1e-12, gtol=1e-9))
        x = r.x.copy()
        if fixed_gamma is not None:
            x[6] = fixed_gamma
        params = dict(zip(PARAMS, x))
        params['C'] = float(np.exp(params['C']))
        candidates.append(Candidate(float(r.fun), params))
        return float(r.fun), x

    with one_blas_thread():  # thousands of tiny BLAS calls (see one_blas_thread)
        ybar = float(y.mean())
        starts = [(bp['L0'], bp['A'], bp['alpha'], b * ybar, np.log(c), 0.5, 0.5) for b in (0.05,) for c in (3, 300)]
        best = min((run_from(np.array(s)) for s in starts), key=lambda t: t[0])
        profile = {float(np.clip(best[1][6] + d, 0, 2)) for d in (-gamma_step, gamma_step)} if gamma_step else set()
        for gamma in sorted(profile):
            run_from(best[1], fixed_gamma=gamma)
    return MultiPowerLawFit(runs, candidates, scale=scale, band_tol=band_tol, max_extrapolation=max_extrapolation,
                            skip=skip)
