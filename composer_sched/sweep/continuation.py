"""Continue a finished run of any schedule to ``R`` times its budget, from its final checkpoint (issue 23).

The continuation (:class:`~composer_sched.schedules._continuation.ContinuationSchedule`) keeps the finished run's
LR as it was, re-warms from the LR it ended at to a new peak over a short span, then runs the recipe's own decay
family (:func:`~composer_sched.schedules._continuation.decay_family`: its whole shape from its top to its floor,
resampled over the rest: a whole cosine back down to the old floor, WSD's stable phase and cool-down in the same
proportions, ...) to the new end. Only the new batches train.

:func:`plan_continuation` checks everything before training and chooses the re-warm: back to the recipe's own peak
LR, over the length with the lowest convex bound of the whole concatenated schedule (:func:`candidates`,
:mod:`composer_sched.theory`; the table shows the bound of every peak considered); :func:`continuation_trainer`
builds the Composer Trainer that trains it.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ['Continuation', 'Candidate', 'plan_continuation', 'candidates', 'continuation_trainer',
           'PEAKS', 'REWARMS']

#: Candidate peaks, as multiples of the recipe's peak LR (above 1: shown, never the default, docs/continuing.md).
PEAKS = (0.5, 0.75, 1.0, 1.25, 1.5)
#: Candidate re-warm lengths, as fractions of the new batches.
REWARMS = (0.02, 0.05, 0.1)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One continuation considered: its ``peak`` (multiple of the recipe's LR), ``rewarm`` (batches), the convex
    bound of the whole run's LR (old part included; lower is better) and the loss law's prediction (``None`` with
    ``note`` when the law cannot speak for it)."""
    peak: float
    rewarm: int
    bound: float
    loss: Optional[float] = None
    interval: Optional[tuple[float, float]] = None
    note: str = ''


@dataclasses.dataclass(frozen=True)
class Continuation:
    """A planned continuation: the schedule, where it joins, the new length, and how it was chosen.

    Attributes:
        schedule: the continuation in scheduler time (batches).
        old_batches: batches the finished run trained (``N``).
        batches: batches of the continued run (``M``, ``R x N`` rounded down to whole batches).
        ratio: ``R``.
        table: the candidates considered (empty when ``--peak`` and ``--rewarm`` both were given).
        chosen: the candidate trained.
    """
    schedule: Any
    old_batches: int
    batches: int
    ratio: float
    table: tuple
    chosen: Candidate

    def applied(self) -> np.ndarray:
        """The multiplier of every batch ``0..M-1`` as Composer applies it (batch ``b`` trains with the value the
        scheduler returned at timestamp ``b - 1``; batch 0 with the one at 0)."""
        t = np.arange(self.batches, dtype=float)
        return np.asarray(self.schedule(np.maximum(t - 1, 0)), dtype=float)

    def text(self, lr: float) -> str:
        """The candidates table and the choice, for the CLI."""
        lines = []
        if self.table:
            lines.append(f'  {"peak lr":>9} {"re-warm":>8} {"bound":>9} {"pred. loss":>10} {"interval":>17}   '
                         '(bound: convex bound of the whole run; loss: the law fitted on its training loss)')
            for c in self.table:
                mark = ' <- chosen' if c == self.chosen else ''
                pred = f'{c.loss:10.4f}' if c.loss is not None else f'{"-":>10}'
                iv = f'[{c.interval[0]:.4f}, {c.interval[1]:.4f}]' if c.interval else '-'
                lines.append(f'  {c.peak * lr:>9.4g} {c.rewarm:>8} {c.bound:>9.4f} {pred} {iv:>17}{mark}')
            notes = sorted({re.sub(r' \(LR [^)]*\)', '', c.note) for c in self.table if c.note})
            lines += [f'  law: {n}' for n in notes]
            if len({c.peak for c in self.table}) > 1:
                lines.append("  peak: the recipe's own LR (the from-scratch run's); re-warm: the lowest bound at it "
                             '(--peak/--rewarm train another row)')
        c = self.chosen
        lines.append(f'continuation: batches {self.old_batches}..{self.batches} (ratio {self.ratio:g}): re-warm from '
                     f'lr {self.schedule.start * lr:.4g} to {c.peak * lr:.4g} over {c.rewarm} batches, then the '
                     'recipe\'s decay family to its floor')
        return '\n'.join(lines)


def _checked_target(target, info, ratio: float, path: str, base: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The finished run's previewed LR (sweep ratio ``base``) and the recipe's at ``ratio``, after the checks that
    need them.

    Raises:
        ValueError: AutoWU, a checkpoint that is not the end of this recipe's run.
    """
    from composer_sched.algorithms.autowu import AutoWU
    from composer_sched.sweep.plan import ratio_curves

    for a in target.recipe.build_algorithms():
        if isinstance(a, AutoWU):
            raise ValueError('--extend-to is not allowed for an AutoWU run: AutoWU decides its warm-up and decay '
                             'from the training loss as it goes (and has finished its decay), so there is no '
                             'schedule to continue past its end; train the longer budget from scratch.')
    curves = ratio_curves(target, [base, ratio])
    old, new = curves[base], curves[ratio]
    if info.total != len(old):
        raise ValueError(f'--from={path} is not allowed: it is the end of a run of {info.total} batches, and this '
                         f'recipe trains {len(old)} (give the max_duration it was trained with).')
    want = target.recipe.lr * old
    got = np.asarray(info.lrs, dtype=float)
    bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-12))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f'--from={path} is not allowed: it is not the end of this recipe\'s run (its LR at batch {i} '
                         f'was {got[i]:.6g}, the recipe\'s is {want[i]:.6g}).')
    if len(new) <= len(old) + 1:
        raise ValueError(f'--extend-to={ratio:g} is not allowed: ratio {ratio:g} trains {len(new)} batches, not more '
                         f'than the {len(old)} of the finished run; give a larger ratio.')
    return old, new


def _head(info, lr: float) -> tuple[float, ...]:
    """What the finished run's scheduler returned at timestamps ``0..N-1`` (multiples of ``lr``): the LR of
    batches ``1..N-1`` and, last, the LR it was about to apply when it ended (the checkpoint's optimizer)."""
    groups = [g for opt in (info.state.get('optimizers') or {}).values() if isinstance(opt, dict)
              for g in opt.get('param_groups', []) if isinstance(g, dict)]
    end = float(groups[0]['lr']) if groups and isinstance(groups[0].get('lr'), (int, float)) else info.lrs[-1]
    return tuple(v / lr for v in info.lrs[1:]) + (end / lr,)


def _schedule(head, peak: float, rewarm: int, new: np.ndarray, batches: int):
    from composer_sched.schedules._continuation import ContinuationSchedule, decay_family

    j = len(head) - 1
    length = max(1, batches - 1 - j - rewarm)
    return ContinuationSchedule(head=head, peak=peak, rewarm=rewarm, tail=decay_family(new, length))


def candidates(head, new: np.ndarray, batches: int, peaks: Sequence[float] = PEAKS,
               rewarms: Sequence[int] = (), fit: Any = None, lr: float = 1.0) -> list[Candidate]:
    """Score continuations over ``peaks`` x ``rewarms``: the convex bound (:func:`composer_sched.theory.
    compute_rate`, ``G = D = 1``, at the base LR ``lr``) of the whole run's LR, old part included, and, when
    ``fit`` (a fitted loss law of :mod:`composer_sched.predict`) is given, its predicted final loss and interval.

    The bound is a worst case over convex problems: it rewards a large step-size sum but penalises what a late,
    high LR adds at the end, so it prefers a modest peak and a schedule that cools down; the law extrapolates the
    finished run's own loss curve, and refuses (``note``) a schedule unlike the one it was fitted on.
    """
    from composer_sched.theory import compute_optimal_base, compute_rate

    # Calibrate the problem's distance D (G = 1) so that the recipe's LR is the bound's optimal base for the
    # from-scratch run at the new budget, the run a user would otherwise train (with the recipe's LR) and the one
    # a continuation is measured against. Calibrated on the finished run instead, the bound's optimal LR falls as
    # 1/sqrt(horizon) and it picks a peak about 1/sqrt(R) of the recipe's, which measured worse (docs/continuing.md).
    base, _ = compute_optimal_base(_trim(np.asarray(new, dtype=float)[:batches]), G=1.0, D=1.0)
    d = lr / base if base > 0 else 1.0
    out = []
    for p in peaks:
        for w in rewarms:
            sched = _schedule(head, p, int(w), new, batches)
            t = np.arange(batches, dtype=float)
            applied = np.asarray(sched(np.maximum(t - 1, 0)), dtype=float) * lr
            bound = float(compute_rate(_trim(applied), 1.0, d))
            loss = interval = None
            note = ''
            if fit is not None:
                loss, interval, note = _predict(fit, applied / lr)
            out.append(Candidate(float(p), int(w), bound, loss, interval, note))
    return out


def law_fit(info, old: np.ndarray) -> tuple[Any, str]:
    """The momentum law (:mod:`composer_sched.predict`) fitted on the finished run's own training loss, as its
    checkpoint recorded it (means over windows of ``N / 40`` batches), or ``(None, why not)``."""
    loss = np.asarray(info.train_loss, dtype=float)
    n = min(len(loss), len(old))
    if n < 40 or not np.isfinite(loss[:n]).all():
        return None, 'no usable training-loss history in the checkpoint (the law is not fitted)'
    k = max(1, n // 40)
    m = n // k
    steps = np.arange(1, m + 1) * k
    values = loss[:m * k].reshape(m, k).mean(axis=1)
    try:
        from composer_sched.predict import Run, fit_loss_law

        return fit_loss_law([Run(np.asarray(old[:n], dtype=float), train_loss=(steps, values))]), ''
    except ValueError as e:
        return None, f'the law could not be fitted: {str(e).splitlines()[0]}'


def _predict(fit: Any, multipliers: np.ndarray) -> tuple[Optional[float], Optional[tuple[float, float]], str]:
    """The law's final training loss for a continuation, its interval, and a note: the predict API refuses a
    re-warmed schedule (it is not warm-up + stable + monotone cool-down), so the law's own formula is then
    evaluated with the fitted parameters, without an interval, and the note says it is outside the checked range."""
    try:
        pred = fit.predict(multipliers)
        lo, hi = _interval(pred)
        return float(pred.loss), ((lo, hi) if lo is not None and hi is not None else None), ''
    except ValueError as e:
        why = str(e).splitlines()[0]
    try:
        value = float(np.asarray(fit.curve(multipliers, np.array([len(multipliers)])))[-1])
    except Exception:  # a law object without a curve (another predict version): no number, the refusal says why
        return None, None, f'refused: {why}'
    return (value if np.isfinite(value) and value > 0 else None), None, \
        f'evaluated outside the range predict checks, no interval (predict refuses a re-warm: {why})'


def _trim(lrs) -> np.ndarray:
    """The LRs up to the last non-zero one (the refined bound is infinite when the last LR is 0)."""
    a = np.asarray(lrs, dtype=float)
    nz = np.flatnonzero(a > 0)
    return a[:nz[-1] + 1] if nz.size else a


def _interval(pred) -> tuple[Optional[float], Optional[float]]:
    """The prediction's interval, whichever way the predict API spells it (a band or an interval)."""
    for lo_name, hi_name in (('lower', 'upper'), ('low', 'high'), ('lo', 'hi')):
        lo, hi = getattr(pred, lo_name, None), getattr(pred, hi_name, None)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            return float(lo), float(hi)
    for name in ('interval', 'band'):
        v = getattr(pred, name, None)
        if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            return float(v[0]), float(v[1])
    return None, None


def plan_continuation(target, info, ratio: float, path: str, peak: Optional[float] = None,
                      rewarm: Optional[int] = None, fit: Any = None, base: float = 1.0) -> Continuation:
    """Check and plan the continuation of the finished run ``info`` (its final checkpoint at ``path``) to
    ``ratio`` times the recipe's budget.

    Args:
        target: the recipe as a sweep loads it (:func:`composer_sched.sweep.target.loaded_target`).
        info: the checkpoint as read (:func:`composer_sched.recipes.checkpoints.read_checkpoint`), final.
        ratio: ``R > 1``.
        path: the checkpoint's path (named in errors).
        peak: the new peak as a multiple of the recipe's LR, ``> 0`` (default: the peak of the recipe's own
            schedule, 1 for most).
        rewarm: re-warm batches, ``>= 1`` (default: the lowest convex bound at that peak, :func:`candidates`).
        fit: a fitted loss law to predict each candidate's final loss (optional).
        base: the sweep ratio the finished run trained at (``1``: the recipe's own budget; a sweep continues its
            runs at other ratios), ``0 < base < ratio``.

    Raises:
        ValueError: see :func:`_checked_target`, or a bad ``peak`` / ``rewarm``.
    """
    if peak is not None and (isinstance(peak, bool) or not math.isfinite(peak) or not peak > 0):
        raise ValueError(f'--peak={peak!r} is not allowed: give the new peak LR as a multiple of the recipe\'s, a '
                         'finite number > 0.')
    old, new = _checked_target(target, info, ratio, path, base)
    n, m = len(old), len(new)
    extra = m - n
    if rewarm is not None and (isinstance(rewarm, bool) or not isinstance(rewarm, int) or not 1 <= rewarm < extra):
        raise ValueError(f'--rewarm={rewarm!r} is not allowed: give an integer number of batches in [1, {extra - 1}] '
                         f'(the continuation trains {extra} new batches).')
    head = _head(info, target.recipe.lr)
    note = ''
    if fit is None and (peak is None or rewarm is None):
        fit, note = law_fit(info, old)
    # Besides the fixed grid: the peak of the recipe's own schedule (1 for most).
    top = round(float(np.max(new)), 6)
    peaks = tuple(sorted(set(PEAKS) | {top})) if peak is None else (peak,)
    rewarms = sorted({max(1, min(extra - 1, int(round(f * extra)))) for f in REWARMS}) if rewarm is None else [rewarm]
    table = candidates(head, new, m, peaks, rewarms, fit=fit, lr=target.recipe.lr)
    if note:
        table = [dataclasses.replace(c, note=note) for c in table]
    # The peak: the recipe's own (the LR it was tuned at, which the from-scratch run at R re-uses), unless given;
    # the re-warm: the lowest bound at that peak. Why not the bound's peak: docs/continuing.md (method card).
    pool = [c for c in table if c.peak == top] if peak is None else table
    chosen = min(pool, key=lambda c: (c.bound, c.rewarm))
    table_out = tuple(table) if len(table) > 1 else ()
    return Continuation(_schedule(head, chosen.peak, chosen.rewarm, new, m), n, m, float(ratio), table_out, chosen)


def continuation_trainer(target, plan: Continuation, load_path: str, **trainer_kwargs: Any):
    """The recipe's Trainer for the continued run: ``max_duration`` the continuation's batches, the continuation
    as its only scheduler (the recipe's schedulers are what it continues), loading ``load_path``.

    ``trainer_kwargs`` go to :meth:`~composer_sched.recipes.Recipe.build_trainer` (``callbacks``, ``save_folder``,
    ...).
    """
    from composer_sched.adapters.continuation import ContinuationScheduler

    # The continuation replaces the whole schedule the finished run had, set by schedulers or by schedule
    # algorithms (setters, modifiers: their effect is in the preview it continues); other algorithms stay.
    algorithms = [a for a in target.algorithms() if getattr(a, 'schedule_role', None) not in ('setter', 'modifier')]
    kwargs: dict[str, Any] = dict(max_duration=f'{plan.batches}ba', schedulers=[ContinuationScheduler(plan.schedule)],
                                  scale_schedule_ratio=1.0, algorithms=algorithms, load_path=load_path)
    kwargs.update(trainer_kwargs)
    return target.recipe.build_trainer(**kwargs)
