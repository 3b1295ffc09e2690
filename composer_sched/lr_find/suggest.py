r"""Reading an LR range test: six rules that turn a (learning rate, loss) record into a suggested LR.

Everything here is numpy only (plus AutoWU's numpy/scipy GP), so the rules can be checked on hand-made curves.
The inputs are the per-batch LRs :math:`\eta_i` of the ramp, the raw (all-reduced) losses :math:`\ell_i` and their
debiased exponential moving average :math:`\bar\ell_i` (:func:`smooth`), as fastai's ``Recorder`` and Lightning's
``_LRCallback`` both record it.

Peer rules, as in fastai 2.7 ``fastai/callback/schedule.py`` (``valley``, ``slide``, ``minimum``, ``steep``; read on
the smoothed losses without the first ``num_batches // 10`` and the last 5 records) and Lightning 2.6
``src/lightning/pytorch/tuner/lr_finder.py`` (``_LRFinder.suggestion``; smoothed losses without the first 10 and
the last record). Ours: the loss minimum located by AutoWU's Gaussian process, with its band, and a peak LR for a
WSD or one-cycle run read from it.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

__all__ = ['smooth', 'valley', 'slide', 'minimum', 'steep', 'steepest_descent', 'GPMinimum', 'gp_minimum',
           'Suggestion', 'suggest_all', 'RULES']

#: The rules in the order tables and plots show them.
RULES = ('valley', 'slide', 'minimum', 'steep', 'lightning', 'gp_minimum', 'peak')


def smooth(losses: ArrayLike, beta: float = 0.98) -> np.ndarray:
    r"""Debiased exponential moving average, as fastai's ``AvgSmoothLoss`` and Lightning's ``_LRCallback``:

    .. math:: a_i = \beta a_{i-1} + (1-\beta)\ell_i,\ a_{-1} = 0,\qquad \bar\ell_i = a_i / (1 - \beta^{i+1})

    Args:
        losses: raw losses; a non-finite loss makes it and every later smoothed value non-finite.
        beta: in ``[0, 1)`` (default 0.98; 0 is no smoothing).

    Example:
        >>> smooth([1.0, 0.0], beta=0.5).round(4).tolist()
        [1.0, 0.3333]
    """
    values = np.asarray(losses, dtype=float)
    out = np.empty(len(values))
    avg = 0.0
    for i, v in enumerate(values.tolist()):
        avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def valley(lrs: np.ndarray, losses: np.ndarray) -> Optional[int]:
    r"""fastai's ``valley``: the index two thirds of the way along the longest valley.

    The valley is the longest strictly decreasing subsequence of the losses (:math:`L_i` its length ending at
    :math:`i`, :math:`e` the first index of the longest one and :math:`s = e - L_e`); the suggestion is the index
    :math:`s + \lfloor (e - s)/3 \rfloor + \lfloor (e - s)/6 \rfloor`. (fastai measures the valley by its number
    of points, not its span; kept as is.)

    Example:
        >>> int(valley(np.arange(7.0), np.array([5., 4, 3, 2, 1, 0, 3])))
        2
    """
    n = len(losses)
    if n == 0:
        return None
    lds = np.ones(n, dtype=int)
    end = 0
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            lds[i] = 1 + lds[:i][higher].max()
        if lds[i] > lds[end]:
            end = i
    start = end - lds[end]
    sections = (end - start) / 3
    return max(0, start + int(sections) + int(sections / 2))


def slide(lrs: np.ndarray, losses: np.ndarray, lr_diff: int = 15, thresh: float = 0.005) -> Optional[float]:
    r"""fastai's ``slide``: walk a window of ``lr_diff`` records left from the end until the loss gradients at its
    two ends differ by at most ``thresh``; the LR at the window's left end before that last step.

    With :math:`g = \nabla_i \ell` (``np.gradient``, unit spacing), :math:`r = n-1`, :math:`l = r - 15`: while
    :math:`l \ge 0` and :math:`|g_r - g_l| > 0.005`, take :math:`\eta_l` and move both one to the left. The
    threshold is in loss units (a loss scaled by 10 slides further). Returns ``None`` with ``<= lr_diff`` records.

    Example:
        >>> lrs = np.logspace(-4, 0, 40); loss = np.r_[np.linspace(3, 1, 30), np.linspace(1.2, 3, 10)]
        >>> f'{slide(lrs, loss):.3g}'
        '0.00273'
    """
    n = len(losses)
    if n <= lr_diff:
        return None
    g = np.gradient(losses)
    right, left = n - 1, n - 1 - lr_diff
    lr = lrs[left]
    while left >= 0 and abs(g[right] - g[left]) > thresh:
        lr = lrs[left]
        right, left = right - 1, left - 1
    return float(lr)


def minimum(lrs: np.ndarray, losses: np.ndarray) -> Optional[int]:
    """fastai's ``minimum``: the index of the lowest (smoothed) loss; the suggestion is a tenth of its LR.

    Example:
        >>> int(minimum(np.arange(3.0), np.array([2., 1., 3.])))
        1
    """
    return int(np.argmin(losses)) if len(losses) else None


def steep(lrs: np.ndarray, losses: np.ndarray) -> Optional[int]:
    r"""fastai's ``steep``: the index :math:`i` minimising :math:`(\ell_{i+1}-\ell_i)/(\ln\eta_{i+1}-\ln\eta_i)`
    (the steepest fall against log LR; the left point of the pair).

    Example:
        >>> int(steep(np.array([1., 10, 100, 1000]), np.array([3., 2.5, 1., 0.9])))
        1
    """
    if len(losses) < 2:
        return None
    return int(np.argmin(np.diff(losses) / np.diff(np.log(lrs))))


def steepest_descent(lrs: np.ndarray, losses: np.ndarray) -> Optional[int]:
    r"""Lightning's ``suggestion()``: the index of the most negative :math:`d\ell/d\eta` against the LR itself
    (``torch.gradient(losses, spacing=[lrs])``: second-order differences on the uneven grid, first order at the
    ends), non-finite losses dropped. On an exponential ramp this leans to larger LRs than fastai's ``steep``.

    Example:
        >>> int(steepest_descent(np.array([1., 2, 3, 4]), np.array([4., 3.5, 2., 1.8])))
        1
    """
    ok = np.isfinite(losses)
    if ok.sum() < 2:
        return None
    idx = np.flatnonzero(ok)
    g = np.gradient(losses[ok], lrs[ok])
    return int(idx[int(np.argmin(g))])


@dataclasses.dataclass(frozen=True)
class GPMinimum:
    """Where AutoWU's GP puts the minimum of the loss along the ramp.

    Attributes:
        lr: the LR at the posterior mean's minimum.
        low, high: the band: the contiguous LR range around it where the posterior mean is within one standard
            deviation of the difference from the minimum's (the LRs the GP cannot tell apart from it).
        flat_low: the smallest LR, going left from the minimum without a break, where the posterior mean is within
            ``flat_tol`` (20%) of the whole drop (first value minus minimum) above the minimum: where the loss had
            reached its floor. On a sharp V it is close to ``lr``; on a long flat floor it is far below it.
        p_past: probability that the loss at the end of the ramp is above an earlier point of the curve
            (:func:`~composer_sched.algorithms.autowu.gp.past_minimum_prob`, AutoWU's switch test); near 1 the
            test went past the minimum, lower values mean ``max_lr`` may be too small.
        x, mean, std: the posterior on its grid (``x`` the fraction of the record), in loss units.
    """
    lr: float
    low: float
    high: float
    flat_low: float
    p_past: float
    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def gp_minimum(lrs: np.ndarray, losses: np.ndarray, *, clip: Optional[float] = None, lengthscale: float = 0.1,
               grid_points: int = 200, fit_points: int = 100, predict_points: int = 500, z: float = 1.0,
               flat_tol: float = 0.2, seed: int = 0) -> Optional[GPMinimum]:
    r"""Locate the loss minimum along the ramp with AutoWU's Gaussian process
    (:func:`~composer_sched.algorithms.autowu.gp.estimate_minimum` with ``along='index'``).

    The record's index is mapped to :math:`x = i/(n-1) \in [0, 1]` as AutoWU does; losses are clipped at ``clip``
    (the divergence threshold, so a blown-up tail reads as "high", not as its size), winsorised against their
    neighbours' median (one spike cannot bend the curve), standardised, and a GP with an RBF kernel of fixed
    ``lengthscale`` (in units of the record) is fitted on <= ``fit_points`` points and conditioned on
    <= ``predict_points``. With :math:`\mu, \Sigma` the posterior of the noise-free curve on the grid and
    :math:`x^* = \arg\min\mu`: the suggestion is the LR at :math:`x^*` (interpolated geometrically between
    records) and the band is the contiguous run of grid points around :math:`x^*` with
    :math:`\mu(x) - \mu(x^*) \le z \sqrt{\Sigma_{xx} + \Sigma_{x^*x^*} - 2\Sigma_{xx^*}}`.

    Args:
        lrs, losses: the record (positive LRs; raw losses, non-finite ones are dropped).
        clip: upper clip for the losses (``None``: no clip); :func:`~composer_sched.lr_find.lr_find` passes the
            median loss of the first tenth of the ramp, so divergence reads as "back where it started".
        lengthscale: ``> 0`` (AutoWU's 0.2 suits its slow ramp; 0.1 over a 100-batch range test).
        z: band half-width in standard deviations, ``> 0``.
        flat_tol: fraction of the drop that counts as "at the floor" for ``flat_low``, in ``(0, 1)``.
        seed: seeds the subsampling (records longer than ``predict_points``); the same on every rank.

    Returns:
        The :class:`GPMinimum`, or ``None`` with fewer than 8 finite losses.

    Example:
        >>> lrs = np.logspace(-4, 0, 100); loss = 1 + (np.log10(lrs) + 2) ** 2
        >>> g = gp_minimum(lrs, loss); bool(0.005 < g.lr < 0.02 and g.low <= g.lr <= g.high), g.p_past > 0.95
        (True, True)
    """
    from composer_sched.algorithms.autowu import gp

    lrs = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    if len(y) < 2:
        return None
    if clip is not None:
        y = np.minimum(y, clip)
    est = gp.estimate_minimum(lrs, y, lengthscale=lengthscale, z=z, fit_points=fit_points,
                              predict_points=predict_points, grid_points=grid_points, seed=seed, along='index')
    if est is None:
        return None
    mu, k = est.mean, est.k
    floor = mu - mu[k] <= flat_tol * max(mu[0] - mu[k], 0.0)
    flat = k
    while flat > 0 and floor[flat - 1]:
        flat -= 1
    return GPMinimum(lr=est.lr, low=est.lr_low, high=est.lr_high, flat_low=float(est.grid_lrs[flat]),
                     p_past=est.p_past, x=est.x, mean=est.mean, std=est.sd)


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """One rule's suggested LR and the point the plot marks (``mark_lr``, ``mark_loss`` on the smoothed curve)."""
    rule: str
    lr: Optional[float]
    mark_lr: Optional[float]
    mark_loss: Optional[float]
    description: str


DESCRIPTIONS = {
    'valley': 'fastai: 2/3 along the longest falling stretch of the smoothed loss',
    'slide': 'fastai: where the loss slope stops changing, sliding a 15-record window left from the end',
    'minimum': 'fastai: a tenth of the LR at the lowest smoothed loss',
    'steep': 'fastai: steepest fall of the smoothed loss against log LR',
    'lightning': 'Lightning: steepest fall of the smoothed loss against the LR',
    'gp_minimum': "ours: LR at the loss minimum of AutoWU's GP (band: within 1 sd of it)",
    'peak': 'ours: peak LR for WSD / one-cycle: gp_minimum / {div:g}, or where the loss floor starts if lower',
}


def suggest_all(lrs: ArrayLike, losses: ArrayLike, smoothed: ArrayLike, *, num_batches: int,
                clip: Optional[float] = None, peak_divisor: float = 2.0, lengthscale: float = 0.1,
                seed: int = 0) -> tuple[dict[str, Suggestion], Optional[GPMinimum]]:
    """Every rule on one record, each on the slice its peer reads.

    fastai's rules read ``smoothed[num_batches // 10 : -5]`` (cut at the first non-finite value), Lightning's
    ``smoothed[10 : -1]``, ours the raw losses (all of them). A rule without enough points gives ``lr=None``.

    Args:
        lrs, losses, smoothed: the record, one entry per batch.
        num_batches: the planned ramp length (fastai's skip is a tenth of it).
        clip: passed to :func:`gp_minimum`.
        peak_divisor: ``peak = min(gp_minimum / peak_divisor, flat_low)``, ``>= 1``.

    Returns:
        ``({rule: Suggestion}, GPMinimum or None)`` with the rules in :data:`RULES` order.
    """
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    smoothed = np.asarray(smoothed, dtype=float)
    out: dict[str, Suggestion] = {}

    def add(rule, lr, mark_lr=None, mark_loss=None):
        desc = DESCRIPTIONS[rule].format(div=peak_divisor)
        out[rule] = Suggestion(rule, None if lr is None else float(lr), None if mark_lr is None else float(mark_lr),
                               None if mark_loss is None else float(mark_loss), desc)

    # fastai: drop the first tenth and the last 5 records, then cut at the first NaN
    a, b = num_batches // 10, max(len(lrs) - 5, 0)
    fl, fs = lrs[a:b], smoothed[a:b]
    bad = np.flatnonzero(~np.isfinite(fs))
    if bad.size:
        fl, fs = fl[:bad[0]], fs[:bad[0]]
    i = valley(fl, fs)
    add('valley', *((None,) if i is None else (fl[i], fl[i], fs[i])))
    lr = slide(fl, fs)
    add('slide', lr, lr, None if lr is None else np.interp(np.log10(lr), np.log10(fl), fs))
    i = minimum(fl, fs)
    add('minimum', *((None,) if i is None else (fl[i] / 10, fl[i], fs[i])))
    i = steep(fl, fs)
    add('steep', *((None,) if i is None else (fl[i], fl[i], fs[i])))
    # Lightning: drop the first 10 and the last record
    ll, ls = lrs[10:len(lrs) - 1], smoothed[10:len(lrs) - 1]
    i = steepest_descent(ll, ls) if len(ls) else None
    add('lightning', *((None,) if i is None else (ll[i], ll[i], ls[i])))
    g = gp_minimum(lrs, losses, clip=clip, lengthscale=lengthscale, seed=seed) if len(lrs) >= 2 else None
    if g is None:
        add('gp_minimum', None)
        add('peak', None)
    else:
        at = lambda v: float(np.interp(np.log(v), np.log(lrs), smoothed)) if np.all(lrs > 0) else None  # noqa
        add('gp_minimum', g.lr, g.lr, float(g.mean.min()))  # marked on the GP's curve
        peak = min(g.lr / peak_divisor, g.flat_low)
        add('peak', peak, peak, at(peak))
    return out, g
