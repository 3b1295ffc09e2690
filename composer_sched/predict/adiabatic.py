r"""A loss law for slow decays across horizons: the power law of the LR area, times a loss reduction that depends on
how far the LR has come down, not on how long it took.

.. math::
    L(s) = \bigl(L_0 + A\,S_1(s)^{-\alpha}\bigr)\,\bigl(1 - B\,(1 - \eta_{s-1})^{p}\bigr)

with :math:`\eta` the LR divided by its peak, :math:`S_1(s) = \sum_{i<s} \eta_i` in units of the longest fitted run
:math:`T`, :math:`B \in [0, 1]`, :math:`p > 0`.

Why: fitted on one cosine run, the momentum law (whose loss reduction grows with the annealing *area*, so with the
horizon) and the Multi-Power Law predicted a three times shorter cosine +0.8% to +1.6% too high on the Multi-Power
Law authors' curves. Measured against their constant-LR runs, the reduction at the end of a cosine is about the
same at both horizons at equal LR (6-15% larger at the shorter one, whose loss is higher): it saturates with the LR
drop. But from one cosine run the power law and the reduction cannot be told apart (both grow together along the
run), so this law needs a constant-LR run of the recipe beside it, which pins the power law. It describes no lag
between the LR and the loss, so it is only used for decays over the whole run (cosine, linear to a floor) and
constant-LR targets; a WSD cool-down of a few percent of the run is the momentum law's.
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
from composer_sched.predict._shape import _whole_run

__all__ = ['AdiabaticLawFit', 'adiabatic_law', 'fit_adiabatic_law']


def adiabatic_law(lr, steps, *, L0: float, A: float, alpha: float, B: float, p: float, scale: float) -> np.ndarray:
    r"""The law's loss after each of ``steps`` batches (each in ``[1, len(lr)]``) of a run with per-batch LR ``lr``:
    :math:`(L_0 + A (S_1/T)^{-\alpha}) (1 - B (1 - \eta_{s-1})^p)`, :math:`T` = ``scale``.

    Example:
        >>> lr = np.r_[np.ones(50), np.linspace(1, 0.1, 50)]
        >>> adiabatic_law(lr, [50, 100], L0=2, A=0.5, alpha=0.5, B=0.1, p=1, scale=100).round(4).tolist()
        [2.7071, 2.3368]
    """
    eta, S1, _ = lr_drops(lr)
    steps = np.asarray(steps, dtype=np.int64)
    return (L0 + A * np.maximum(S1[steps] / scale, 1e-12) ** -alpha) * (1 - B * (1 - eta[steps - 1]) ** p)


class AdiabaticLawFit(LawFit):
    """A fitted adiabatic law (see :func:`fit_adiabatic_law`); ``params``: ``L0, A, alpha, B, p``. It predicts
    decays over the whole run at other horizons (refusal rule 7 does not apply: the constant-LR run fixes the power
    law), and constant-LR targets; other cool-downs are refused."""
    law = 'adiabatic'
    horizons = False

    def _curve(self, lr, steps, params=None) -> np.ndarray:
        return adiabatic_law(lr, steps, **(params or self.best.params), scale=self.scale)

    def check(self, lr, *, name: str = 'lr'):
        from composer_sched.predict._shape import analyse_schedule

        shape = analyse_schedule(lr, name=name)
        if shape.cooldown_shape is not None and not _whole_run(shape):
            raise ValueError(f'{name}: its cool-down starts at batch {shape.cooldown_start} of {shape.length}, not '
                             'over the whole run: the adiabatic law describes no lag between the LR and the loss, so '
                             'it predicts only decays over the whole run (cosine, linear to a floor) and constant LRs; '
                             'use the momentum law for WSD-like cool-downs')
        return super().check(lr, name=name)


def fit_adiabatic_law(runs: Sequence[Run], *, huber_delta: float = 1e-3, skip: float = 0.05, band_tol: float = 0.25,
                      max_extrapolation: float = 2.0) -> AdiabaticLawFit:
    r"""Fit the adiabatic law :math:`(L_0 + A S_1^{-\alpha})(1 - B (1-\eta)^p)` to a constant-LR run and one or more
    runs with a decay over the whole run, of one recipe.

    The objective is the momentum law's (mean Huber loss of log-loss residuals after ``skip`` of :math:`T` and the
    warm-up), minimised by L-BFGS-B over :math:`L_0 \in [0, \max L], A \ge 0, \alpha \in [0.001, 3],
    B \in [0, 1], p \in [0.1, 5]` from 8 starts (:math:`\alpha \in \{0.3, 0.6\}`, :math:`p \in \{0.7, 1.5\}`,
    :math:`B \in \{0.02, 0.1\}`); every converged fit is a candidate.

    Args:
        runs: two or more :class:`Run` of one recipe: at least one at a constant LR after the warm-up and one whose
            cool-down spans the whole run (cosine, linear to a floor).
        huber_delta, skip, band_tol, max_extrapolation: as for :func:`fit_momentum_law`.

    Returns:
        An :class:`AdiabaticLawFit`.

    Raises:
        ValueError: no constant-LR run or no run decaying over the whole run among ``runs``, or as
            :func:`fit_momentum_law`.

    Example:
        >>> def cosine(T, w=20):
        ...     u = np.clip((np.arange(T) - w) / (T - w), 0, 1)
        ...     return np.minimum((np.arange(T) + 1) / w, 0.1 + 0.45 * (1 + np.cos(np.pi * u)))
        >>> truth = dict(L0=2.0, A=0.5, alpha=0.5, B=0.1, p=1.2, scale=3000)
        >>> flat = np.minimum((np.arange(3000) + 1) / 20, 1.0)
        >>> steps = np.arange(100, 3001, 50)
        >>> runs = [Run(lr, eval_loss=(steps, adiabatic_law(lr, steps, **truth))) for lr in (cosine(3000), flat)]
        >>> pred = fit_adiabatic_law(runs).predict(cosine(1500))   # the cosine at half the horizon
        >>> bool(abs(pred.loss / adiabatic_law(cosine(1500), [1500], **truth)[0] - 1) < 1e-3)
        True
    """
    check_knobs(huber_delta=huber_delta, skip=skip, band_tol=band_tol, max_extrapolation=max_extrapolation)
    runs = check_runs(runs, 2, 'adiabatic')
    if not any(r.shape.cooldown_shape is None for r in runs) or not any(_whole_run(r.shape) for r in runs):
        raise ValueError('runs: the adiabatic law needs a constant-LR run of the recipe (it fixes the power law of the '
                         'LR area) and a run whose LR decays over the whole run (cosine, linear to a floor), got '
                         f'{[r.name for r in runs]}')
    points = fit_points(runs, skip)
    scale = float(max(r.shape.length for r in runs))
    s1, d = [], []
    for r, (steps, _) in zip(runs, points):
        eta, S1, _ = lr_drops(r.lr)
        s1.append(np.maximum(S1[steps] / scale, 1e-12))
        d.append(1 - eta[steps - 1])
    s1, d = np.concatenate(s1), np.maximum(np.concatenate(d), 0.0)
    y = np.concatenate([loss for _, loss in points])
    logy, n, ld = np.log(y), y.size, np.log(np.maximum(d, 1e-300))

    def objective(th):
        L0, A, alpha, B, p = th
        base_p = s1 ** -alpha
        base = L0 + A * base_p
        dp = np.where(d > 0, d ** p, 0.0)
        red = 1 - B * dp
        yh = np.maximum(base * red, 1e-12)
        h, dh = huber(np.log(yh) - logy, huber_delta)
        g = dh / n  # d objective / d log yh
        gb, gr = g / base, g / np.maximum(red, 1e-12)
        grad = np.array([gb.sum(), gb @ base_p, gb @ (-A * base_p * np.log(s1)), -(gr @ dp),
                         -(gr @ (B * dp * np.where(d > 0, ld, 0.0)))])
        return h.sum() / n, grad

    bounds = [(0, y.max()), (0, None), (1e-3, 3.0), (0, 1.0), (0.1, 5.0)]
    candidates = []
    with one_blas_thread():  # thousands of tiny BLAS calls (see one_blas_thread)
        for alpha in (0.3, 0.6):
            for p in (0.7, 1.5):
                for B in (0.02, 0.1):
                    r = minimize(objective, np.array([0.8 * y.min(), 0.2 * y.min(), alpha, B, p]), jac=True,
                                 method='L-BFGS-B', bounds=bounds, options=dict(maxiter=2000, ftol=1e-14, gtol=1e-10))
                    params = dict(zip(('L0', 'A', 'alpha', 'B', 'p'), map(float, r.x)))
                    candidates.append(Candidate(float(r.fun), params))
    return AdiabaticLawFit(runs, candidates, scale=scale, band_tol=band_tol, max_extrapolation=max_extrapolation,
                           skip=skip)
