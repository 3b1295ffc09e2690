"""What an LR schedule looks like to the loss laws, and when a prediction would be an extrapolation they cannot make.

Both laws see a schedule through areas under its curve, but they were fitted on, and only checked for,
warm-up + stable + monotone cool-down schedules. This module reads that structure off a per-batch LR array and
refuses the targets the given runs cannot speak for (see :func:`check_target`).
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ['ScheduleShape', 'analyse_schedule', 'check_target']

_RTOL = 1e-6          # relative tolerance of "at the peak" and of "monotone"
_POINTS = 201        # where two cool-down shapes are compared
SHAPE_TOL = 0.02      # max |difference| of two normalised cool-down shapes that still count as the same shape
WHOLE_RUN = 0.1       # a cool-down starting within this fraction of the post-warm-up run: a decay over the whole run
HORIZON_TOL = 1.1     # a whole-run decay is predicted within this factor of the fitted horizons' range


@dataclasses.dataclass(frozen=True)
class ScheduleShape:
    """The structure of a warm-up + stable + monotone cool-down schedule.

    Attributes:
        length: number of batches.
        peak: the largest LR.
        warmup: batches before the LR first reaches the peak.
        cooldown_start: first batch after the warm-up below the peak (``length`` when the LR never leaves it).
        warmup_lr: the warm-up's LRs divided by the peak.
        cooldown_shape: the cool-down as ``(u, eta)``: the LR divided by the peak from the last batch at the peak
            (``u = 0``) to the last batch, ``u = j / cooldown_length`` (``None`` without a cool-down).
    """
    length: int
    peak: float
    warmup: int
    cooldown_start: int
    warmup_lr: np.ndarray = dataclasses.field(repr=False)
    cooldown_shape: Optional[Tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False)

    @property
    def cooldown_length(self) -> int:
        """Batches from the last one at the peak to the end (0 without a cool-down): ``C`` for
        ``StableDecaySchedule(length=T, cooldown_length=C)`` sampled at ``0..T-1``."""
        return self.length - self.cooldown_start + 1 if self.cooldown_start < self.length else 0


def analyse_schedule(lr, name: str = 'lr') -> ScheduleShape:
    """Read warm-up, stable phase and cool-down off a per-batch LR array, refusing every other shape.

    The array must rise (non-decreasing) to its peak, then never rise again; the stable phase is the run of batches
    at the peak (relative tolerance 1e-6) after the warm-up, the cool-down everything after it.

    Args:
        lr: the LR (or multiplier) of every batch, 1-D, finite, ``>= 0``, with a positive peak.
        name: the argument's name, for error messages.

    Returns:
        The :class:`ScheduleShape`.

    Raises:
        ValueError: an empty, non-finite or negative array; a warm-up that falls before the peak; an LR that
            rises again after the peak (cycles, restarts, SGDR).

    Example:
        >>> import numpy as np
        >>> s = analyse_schedule(np.r_[np.linspace(0.1, 1, 10), np.ones(70), np.linspace(1, 0, 21)[1:]])
        >>> s.warmup, s.cooldown_start, s.cooldown_length
        (9, 80, 21)
    """
    lr = np.asarray(lr, dtype=float)
    if lr.ndim != 1 or lr.size < 2:
        raise ValueError(f'{name} must be a 1-D array of per-batch LRs with at least 2 batches, got shape {lr.shape}')
    if not np.all(np.isfinite(lr)) or lr.min() < 0:
        raise ValueError(f'{name} must be finite and >= 0, got min {lr.min()!r}')
    peak = float(lr.max())
    if peak <= 0:
        raise ValueError(f'{name} must have a positive peak, got max {peak!r}')
    tol = _RTOL * peak
    at_peak = lr >= peak - tol
    warmup = int(np.argmax(at_peak))
    if np.any(np.diff(lr[:warmup + 1]) < -tol):
        k = int(np.argmax(np.diff(lr[:warmup + 1]) < -tol)) + 1
        raise ValueError(f'{name} falls at batch {k} before reaching its peak at batch {warmup}: a non-monotone '
                         'schedule (cycles, restarts) or a warm-up with a dip; allowed is a non-decreasing warm-up, '
                         'then stable at the peak, then a monotone cool-down')
    rises = np.diff(lr[warmup:]) > tol
    if rises.any():
        k = warmup + int(np.argmax(rises)) + 1
        raise ValueError(f'{name} rises again at batch {k} (LR {lr[k]:.4g} after {lr[k - 1]:.4g}) after its peak: '
                         'cycles, restarts (SGDR) and other non-monotone schedules are outside what the loss laws '
                         'predict; allowed is a non-decreasing warm-up, stable at the peak, then a monotone cool-down')
    below = ~at_peak[warmup:]
    start = warmup + int(np.argmax(below)) if below.any() else lr.size
    shape = None
    if start < lr.size:
        # The cool-down from the last batch at the peak to the last batch, as a function of its fraction u; the
        # schedule reaches u = 1 one batch after the run ends, so the last sample sits at u < 1.
        seg = np.r_[peak, lr[start:]] / peak
        shape = (np.arange(seg.size) / seg.size, seg)
    return ScheduleShape(length=int(lr.size), peak=peak, warmup=warmup, cooldown_start=int(start),
                         warmup_lr=lr[:warmup] / peak, cooldown_shape=shape)


def _whole_run(s: ScheduleShape) -> bool:
    return s.cooldown_shape is not None and s.cooldown_start - s.warmup <= WHOLE_RUN * (s.length - s.warmup)


def shape_distance(a, b) -> float:
    """Max |difference| of two cool-down shapes ``(u, eta)`` on 201 points of the fractions both cover."""
    grid = np.linspace(0.0, min(a[0][-1], b[0][-1]), _POINTS)
    return float(np.abs(np.interp(grid, *a) - np.interp(grid, *b)).max())


def check_target(target: ScheduleShape, fitted: Sequence[ScheduleShape], *, max_extrapolation: float = 2.0,
                 name: str = 'lr', horizons: bool = True) -> None:
    """Refuse a target schedule the fitted runs cannot speak for.

    The rule: the target must be (1) warm-up + stable + monotone cool-down (:func:`analyse_schedule`); (2) at the
    same peak LR as the fitted runs (relative 1e-6); (3) with the warm-up of one of them (same length, same LRs);
    (4) with no cool-down, or a cool-down whose shape (LR over peak against the fraction of the cool-down, compared
    on 201 points of the fractions both runs sample) is within ``0.02 + 1/C`` of a fitted run's cool-down (``C``:
    the shorter cool-down's batches; a cool-down placed at a fraction of the run starts between batches); (5) no
    longer, and with no longer a cool-down, than ``max_extrapolation`` times the longest fitted run and cool-down;
    (6) no longer at the peak LR than ``max_extrapolation`` times the longest fitted stable phase (plus
    ``max(2, 1%)`` of the target's batches), so a constant-LR target follows the same rule as any other. So one
    linear-WSD run predicts other ratios and other cool-down lengths of linear WSD, but not cosine, 1-cycle, SGDR,
    AutoWU, or a constant LR from a cosine run; (7) a decay over the whole run (the cool-down starts within 10% of
    the post-warm-up run: cosine, linear to zero) only within 1.1x of the range of the fitted horizons of that
    shape: fitted on one horizon, the laws mis-transfer its annealing to another (see the method card), unless
    ``horizons=False`` (the adiabatic law fitted with a constant-LR run, :func:`fit_adiabatic_law`).

    Args:
        target: the target's :class:`ScheduleShape`.
        fitted: the fitted runs' shapes.
        max_extrapolation: ``>= 1``.
        name: the target argument's name, for error messages.
        horizons: apply rule 7 (default).

    Raises:
        ValueError: naming the rule the target breaks.

    Example:
        >>> import numpy as np
        >>> def wsd(T, C):
        ...     return np.minimum(1.0, (T - np.arange(T)) / C)
        >>> fit = analyse_schedule(wsd(100, 20))
        >>> check_target(analyse_schedule(wsd(50, 10)), [fit])  # a shorter WSD run: accepted
        >>> check_target(analyse_schedule(np.cos(np.linspace(0, np.pi / 2, 100))), [fit])
        Traceback (most recent call last):
        ...
        ValueError: lr: its cool-down's shape (max distance 0.2...) matches none ...
    """
    if not fitted:
        raise ValueError('no fitted runs to compare the target with')
    peak = fitted[0].peak
    if abs(target.peak - peak) > _RTOL * peak:
        # Say what the schedule does, not where it came from: a ratio of the very recipe the runs were fitted on
        # lands here when its run ends inside the warm-up (it never reaches the peak).
        how = ('it never reaches that peak (e.g. its run ends during the warm-up)' if target.peak < peak
               else 'it rises above that peak')
        raise ValueError(f'{name}: its highest LR is {target.peak:.6g}, the fitted runs\' peak is {peak:.6g}: {how}; '
                         'the laws transfer across budgets and cool-downs at one peak LR')
    if not any(target.warmup == f.warmup and np.allclose(target.warmup_lr, f.warmup_lr, rtol=0, atol=1e-6)
               for f in fitted):
        seen = sorted({f.warmup for f in fitted})
        raise ValueError(f'{name}: its warm-up ({target.warmup} batches to the peak) is none of the fitted runs\' '
                         f'(warm-ups of {seen} batches with the same LRs); the laws do not model warm-up, so '
                         'schedules with another warm-up (1-cycle, AutoWU, cosine from zero) cannot be predicted')
    # The stable phase: a target may not train at the peak much longer than a fitted run did (a constant-LR target
    # from a cosine or a short-stable run would be a pure extrapolation of the power-law term).
    stable = target.cooldown_start - target.warmup
    longest_stable = max(f.cooldown_start - f.warmup for f in fitted)
    allowed_stable = max_extrapolation * longest_stable + max(2, 0.01 * target.length)
    if stable > allowed_stable:
        raise ValueError(f'{name}: {stable} batches at the peak LR is more than max_extrapolation={max_extrapolation} '
                         f'times the longest stable phase of the fitted runs ({longest_stable} batches, plus '
                         f'{allowed_stable - max_extrapolation * longest_stable:.0f} of tolerance): the runs never '
                         'trained that long at the peak (e.g. a constant-LR target from a cosine or an early step '
                         'decay)')
    if target.cooldown_shape is not None:
        shapes = [f.cooldown_shape for f in fitted if f.cooldown_shape is not None]
        if not shapes:
            raise ValueError(f'{name} has a cool-down but no fitted run has one: fit on at least one run with a '
                             'cool-down of the shape you want to predict')
        # A cool-down placed at a fraction of the run starts between two batches: sampled per batch, two cool-downs
        # of one shape differ by up to one batch's step, 1/C of the peak for a linear one of C batches.
        dists = [(shape_distance(target.cooldown_shape, f.cooldown_shape),
                  SHAPE_TOL + 1.0 / min(target.cooldown_length, f.cooldown_length), f)
                 for f in fitted if f.cooldown_shape is not None]
        dist, allowed, closest = min(dists, key=lambda d: d[0] - d[1])
        if dist > allowed:
            floor = float(target.cooldown_shape[1][-1])
            floors = sorted({round(float(f.cooldown_shape[1][-1]), 4) for f in fitted if f.cooldown_shape is not None})
            if min(abs(floor - f) for f in floors) > allowed:
                raise ValueError(f'{name}: its cool-down ends at {floor:.4g} of the peak LR, the fitted runs\' at '
                                 f'{floors} (allowed difference <= {allowed:.3g}); the laws are checked only for '
                                 'cool-downs to the floor they were fitted on (e.g. a step decay to another floor): '
                                 'fit on a run that decays to this floor')
            raise ValueError(f'{name}: its cool-down\'s shape (max distance {dist:.3f} in units of the peak LR from '
                             f'the closest fitted cool-down, of {closest.cooldown_length} batches) matches none of the '
                             f'fitted runs\' cool-downs (allowed <= {allowed:.3g}: {SHAPE_TOL} plus one batch of the '
                             'shorter cool-down, compared at 201 fractions of the cool-down); from these runs the laws '
                             'predict other budgets and cool-down lengths of the same shape only (e.g. not cosine or '
                             '1-sqrt from a linear WSD run)')
    fitted_horizons = sorted({f.length for f in fitted if _whole_run(f)})
    if horizons and _whole_run(target) and fitted_horizons:
        lo, hi = fitted_horizons[0] / HORIZON_TOL, fitted_horizons[-1] * HORIZON_TOL
        if not lo <= target.length <= hi:
            what = (f'one horizon ({fitted_horizons[0]} batches)' if len(fitted_horizons) == 1
                    else f'horizons {fitted_horizons}')
            raise ValueError(f'{name}: a decay over the whole run (cool-down from batch {target.cooldown_start} of '
                             f'{target.length}, e.g. cosine) at a horizon outside what the fitted runs of that shape '
                             f'cover ({what}; allowed {lo:.0f} to {hi:.0f} batches, {HORIZON_TOL}x around them): '
                             'fitted on one horizon, the laws mis-transfer such an annealing to another (backtests '
                             'on real cosine runs, 72k -> 24k and 50k -> 25k steps: +0.7% to +1.6%, worse than '
                             'naive baselines); fit on runs of two horizons around it (sweep --predict anchor), fit '
                             'the adiabatic law on it and a constant-LR run of the recipe '
                             '(composer_sched.predict.adiabatic), or train it')
    longest = max(f.length for f in fitted)
    if target.length > max_extrapolation * longest:
        raise ValueError(f'{name}: {target.length} batches is more than max_extrapolation={max_extrapolation} times '
                         f'the longest fitted run ({longest} batches)')
    longest_cd = max(f.cooldown_length for f in fitted)
    if target.cooldown_length > max_extrapolation * longest_cd:
        raise ValueError(f'{name}: a cool-down of {target.cooldown_length} batches is more than '
                         f'max_extrapolation={max_extrapolation} times the longest fitted one ({longest_cd} batches)')
