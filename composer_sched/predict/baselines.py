r"""Naive predictions of a run's loss, to set beside every law's prediction (and to use when they beat it).

Each baseline reads the loss of the constant-LR *trunk* (the stable phase at the peak LR) off the runs' own loss
points, and removes a cool-down *gain*: what a fitted run's cool-down bought over the trunk at the same step.

* :func:`trunk`: the trunk's loss after the target's batches (no cool-down at all);
* :func:`trunk_minus_gain`: that minus the gain of the longest run with a cool-down;
* :func:`trunk_minus_interpolated_gain`: minus the gain interpolated linearly in :math:`\log T` between the two
  runs with cool-downs closest in length (flat beyond them);
* :func:`stable_power_law`: the trunk extrapolated by the power law :math:`L_0 + A\,S_1^{-\alpha}` fitted on the
  stable-phase points (:math:`S_1` the LR area), minus the longest run's gain measured against the same power law.

The trunk at a step is interpolated linearly in :math:`\log` step between the stable-phase loss points of every
given run (a constant-LR run among them is a trunk of its whole length); beyond the last one, the stable-phase
power law extrapolates it. A baseline that needs what the runs do not have (no stable-phase points, no run with a
cool-down, fewer than two for the interpolated gain) is ``None``. Values are on the loss history's scale; on the
final evaluation's (``Run.final_loss``) with ``final=True``.

Example:
    >>> import numpy as np
    >>> from composer_sched.predict import Run
    >>> def wsd(T, C):
    ...     return np.minimum(1.0, (T - np.arange(T)) / C)
    >>> steps = np.arange(100, 1001, 100)
    >>> full = Run(wsd(1000, 200), eval_loss=(steps, [3.0, 2.8, 2.7, 2.64, 2.6, 2.57, 2.55, 2.53, 2.45, 2.38]))
    >>> round(trunk([full], wsd(500, 100)), 4), round(trunk_minus_gain([full], wsd(500, 100)), 4)
    (2.6, 2.4774)
"""
from __future__ import annotations

import functools
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from composer_sched.predict._law import one_blas_thread
from composer_sched.predict._runs import Run
from composer_sched.predict._shape import analyse_schedule

__all__ = ['BASELINES', 'baselines', 'stable_power_law', 'trunk', 'trunk_minus_gain', 'trunk_minus_interpolated_gain']

BASELINES = ('trunk', 'trunk_minus_gain', 'trunk_minus_interpolated_gain', 'stable_power_law')


def _stable_points(runs: Sequence[Run]) -> Tuple[np.ndarray, np.ndarray]:
    """(steps, losses) measured at the peak LR after the warm-up, from every run, averaged where several runs
    logged the same step (shared trunks)."""
    steps, loss = [], []
    for r in runs:
        s, y = r.points()
        keep = (s > r.shape.warmup) & (s <= r.shape.cooldown_start)
        steps.append(s[keep])
        loss.append(y[keep])
    s, y = np.concatenate(steps), np.concatenate(loss)
    if not s.size:
        return s, y
    uniq, inv = np.unique(s, return_inverse=True)
    return uniq, np.bincount(inv, weights=y) / np.bincount(inv)


def _power_law(runs: Sequence[Run]):
    """``L(s) = L0 + A (s - w/2)^-alpha`` fitted on the second half of the stable-phase points (``w``: the warm-up's
    batches; the area of a linear warm-up is about half its length); None with fewer than 4 points."""
    from scipy.optimize import curve_fit

    s, y = _stable_points(runs)
    s, y = s[s.size // 2:], y[y.size // 2:]
    if s.size < 4:
        return None
    w = max(r.shape.warmup for r in runs) / 2
    x = (s - w) / s.max()

    def f(x, L0, A, alpha):
        return L0 + A * np.maximum(x, 1e-9) ** -alpha

    try:
        with one_blas_thread():  # many least-squares steps on 3 parameters (see one_blas_thread)
            p, _ = curve_fit(f, x, y, p0=(0.9 * y.min(), 0.1 * y.min(), 0.5),
                             bounds=([0, 0, 1e-3], [y.max(), np.inf, 3.0]), maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    scale = s.max()
    return lambda step: float(f((np.asarray(step, dtype=float) - w) / scale, *p))


class _Trunk:
    """The runs' trunk, its stable-phase power law and the target's shape, each computed once: a target's four
    baselines need them many times over (the power law is a curve fit; the shape a pass over the target's LR)."""

    def __init__(self, runs: Sequence[Run], lr, at: Optional[int]):
        self.runs, self.lr, self.at = runs, lr, at

    @functools.cached_property
    def stable(self) -> Tuple[np.ndarray, np.ndarray]:
        return _stable_points(self.runs)

    @functools.cached_property
    def law(self):
        return _power_law(self.runs)

    @functools.cached_property
    def shape(self):
        return analyse_schedule(self.lr)

    @property
    def end(self) -> int:
        return self.shape.length if self.at is None else int(self.at)

    def at_step(self, step: int) -> Optional[float]:
        s, y = self.stable
        if not s.size:
            return None
        if s[0] <= step <= s[-1]:
            return float(np.interp(math.log(step), np.log(s), y))
        return None if self.law is None else self.law(step)


def _gains(runs: Sequence[Run], trunk_at) -> List[Tuple[int, float]]:
    """(length, gain) of every run with a loss point inside its cool-down: the trunk at its last point minus the
    loss there."""
    out = []
    for r in runs:
        s, y = r.points()
        if r.shape.cooldown_shape is None or not s.size or s[-1] <= r.shape.cooldown_start:
            continue
        t = trunk_at(int(s[-1]))
        if t is not None:
            out.append((r.shape.length, t - float(y[-1])))
    return sorted(out)


def _offset(runs: Sequence[Run], final: bool) -> float:
    """The mean ``final_loss - last logged loss`` over the runs with a cool-down and a final loss (0 without)."""
    if not final:
        return 0.0
    offs = [r.final_loss - float(r.points()[1][-1]) for r in runs
            if r.final_loss is not None and r.shape.cooldown_shape is not None]
    return float(np.mean(offs)) if offs else 0.0


def _trunk(m: _Trunk, final: bool) -> Optional[float]:
    t = m.at_step(m.end)
    return None if t is None else t + _offset(m.runs, final)


def _trunk_minus_gain(m: _Trunk, final: bool) -> Optional[float]:
    t = m.at_step(m.end)
    if t is None:
        return None
    if m.shape.cooldown_shape is None:
        return t + _offset(m.runs, final)
    gains = _gains(m.runs, m.at_step)
    return None if not gains else t - gains[-1][1] + _offset(m.runs, final)


def _trunk_minus_interpolated_gain(m: _Trunk, final: bool) -> Optional[float]:
    t = m.at_step(m.end)
    gains = _gains(m.runs, m.at_step)
    if t is None or len({g[0] for g in gains}) < 2:
        return None
    if m.shape.cooldown_shape is None:
        return t + _offset(m.runs, final)
    g = float(np.interp(math.log(m.shape.length), [math.log(n) for n, _ in gains], [v for _, v in gains]))
    return t - g + _offset(m.runs, final)


def _stable_power_law(m: _Trunk, final: bool) -> Optional[float]:
    law = m.law
    if law is None:
        return None
    t = law(m.end)
    if m.shape.cooldown_shape is None:
        return t + _offset(m.runs, final)
    gains = _gains(m.runs, law)
    return None if not gains else t - gains[-1][1] + _offset(m.runs, final)


def trunk(runs: Sequence[Run], lr, *, at: Optional[int] = None, final: bool = False) -> Optional[float]:
    """The constant-LR trunk's loss after the target's last batch (or ``at`` batches): no cool-down.

    Args:
        runs: runs of one recipe; their stable-phase loss points (a constant-LR run's whole history) are the trunk.
        lr: the target's per-batch LR (only its length is used).
        at: read the loss after this many batches instead of ``len(lr)``.
        final: add the mean ``final_loss - last logged loss`` of the runs with a cool-down (the final
            evaluation's scale).

    Returns:
        The loss, or None when the runs have no stable-phase points.

    Raises:
        ValueError: ``lr`` is not warm-up + stable + monotone cool-down.
    """
    return _trunk(_Trunk(runs, lr, at), final)


def trunk_minus_gain(runs: Sequence[Run], lr, *, at: Optional[int] = None, final: bool = False) -> Optional[float]:
    """:func:`trunk` minus the cool-down gain of the longest run with one (trunk minus its loss at its last loss
    point); a target without a cool-down gets the trunk itself. Arguments, returns and raises as :func:`trunk`."""
    return _trunk_minus_gain(_Trunk(runs, lr, at), final)


def trunk_minus_interpolated_gain(runs: Sequence[Run], lr, *, at: Optional[int] = None,
                                  final: bool = False) -> Optional[float]:
    r""":func:`trunk` minus the cool-down gain interpolated linearly in :math:`\log T` between the runs with a
    cool-down (flat beyond the shortest and the longest); None with fewer than two such runs of different lengths.
    Arguments, returns and raises as :func:`trunk`."""
    return _trunk_minus_interpolated_gain(_Trunk(runs, lr, at), final)


def stable_power_law(runs: Sequence[Run], lr, *, at: Optional[int] = None, final: bool = False) -> Optional[float]:
    r"""The stable-phase power law :math:`L_0 + A (s - w/2)^{-\alpha}` (fitted on the second half of the stable
    points) at the target's end, minus the longest run's cool-down gain against the same law. Arguments, returns
    and raises as :func:`trunk`."""
    return _stable_power_law(_Trunk(runs, lr, at), final)


def baselines(runs: Sequence[Run], lr, *, at: Optional[int] = None, final: bool = False) -> Dict[str, Optional[float]]:
    """Every baseline of :data:`BASELINES` for one target: ``{name: loss or None}``.

    Example:
        >>> import numpy as np
        >>> from composer_sched.predict import Run
        >>> lr = np.r_[np.ones(800), np.linspace(1, 0, 201)[1:]]
        >>> run = Run(lr, eval_loss=(np.arange(100, 1001, 100), [3, 2.8, 2.7, 2.64, 2.6, 2.57, 2.55, 2.53, 2.45, 2.38]))
        >>> sorted(k for k, v in baselines([run], np.r_[np.ones(400), np.linspace(1, 0, 101)[1:]]).items() if v)
        ['stable_power_law', 'trunk', 'trunk_minus_gain']
    """
    fns = {'trunk': _trunk, 'trunk_minus_gain': _trunk_minus_gain,
           'trunk_minus_interpolated_gain': _trunk_minus_interpolated_gain, 'stable_power_law': _stable_power_law}
    memo = _Trunk(runs, lr, at)  # one trunk, power law and target shape for the four
    return {name: fns[name](memo, final) for name in BASELINES}
