"""Sweep planning: which runs exist, and which of them branch from a shared trunk.

A shorter run can branch from the longest run (the *trunk*) at batch ``b`` when both runs are in exactly the same
state after ``b`` batches. With the same seed, data order, initial weights and optimizer, that holds when every
learning rate the two runs use up to there is equal. The Trainer steps its schedulers after each batch, so batch
``k`` trains with the value computed at batch ``k - 1`` and the optimizer saved after batch ``b - 1`` already holds
the rate batch ``b`` will use: the per-batch multipliers (:func:`composer_sched.previewing.preview`) must agree on
``[0, b]``. We check that array equality exactly, and only for schedules the registry marks as having a
budget-free prefix; anything else runs independently, with the reason printed.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional, Sequence

import numpy as np

from composer_sched.adapters.durations import check_ratio

#: A ratio branches only if the trunk covers at least this share of its batches.
MIN_SHARED_FRACTION = 0.1

_NUMBER = re.compile(r'\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*')

__all__ = ['RunSpec', 'SweepPlan', 'parse_ratios', 'branch_points', 'sharing_blocker', 'plan_sweep', 'run_id',
           'ratio_text', 'ratio_curves', 'warmup_only']


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Args:
        run_id: stable key of the run in the results database.
        ratio: scale-schedule ratio, ``> 0``.
        seed: the recipe's seed for this run, ``>= 0``.
        save_at: ``(batch, checkpoint path)`` pairs this run (a trunk) writes for its branches.
        load_from: checkpoint to start from (a branch), or ``None``.
        branch_batch: the batch ``load_from`` was saved after.
        trunk_id: ``run_id`` of the trunk this run branches from.
        keep_at: ``(batch, path)`` of the checkpoints this run keeps for later sweeps in the same folder: a trunk's
            at the last batch of its stable phase (exact extension), and the longest ratio's final one (``--extend``
            continues it).
        continue_from: the final checkpoint of the finished run at ratio ``continue_ratio`` (same recipe and seed)
            that this run continues to its own budget (:mod:`composer_sched.sweep.continuation`: a re-warm, then
            the recipe's decay family); it trains only the batches after ``branch_batch``, and ``trunk_id`` names
            that run.
        eval_every: with ``--predict``, evaluate the eval loss and metrics every this many batches (and after
            the last) and return the history with the row; ``None``: no history.
    """
    run_id: str
    ratio: float
    seed: int
    save_at: tuple[tuple[int, str], ...] = ()
    load_from: Optional[str] = None
    branch_batch: Optional[int] = None
    trunk_id: Optional[str] = None
    eval_every: Optional[int] = None
    keep_at: tuple[tuple[int, str], ...] = ()
    continue_from: Optional[str] = None
    continue_ratio: Optional[float] = None

    def with_absolute_paths(self) -> 'RunSpec':
        """This run with its checkpoint paths absolute, as the driver sees them: a worker's working folder (a Ray
        task on another node, a Slurm job) may be another one, and a trunk's checkpoints must be where all look."""
        def fix(pairs: tuple[tuple[int, str], ...]) -> tuple[tuple[int, str], ...]:
            return tuple((b, os.path.abspath(p)) for b, p in pairs)

        return dataclasses.replace(self, save_at=fix(self.save_at), keep_at=fix(self.keep_at),
                                   load_from=os.path.abspath(self.load_from) if self.load_from else None,
                                   continue_from=os.path.abspath(self.continue_from) if self.continue_from else None)


@dataclasses.dataclass
class SweepPlan:
    """Every run of a sweep, trunks first, and what sharing saves.

    Attributes:
        runs: all runs (trunk, then its branches, per seed; then independent runs).
        budgets: batches each ratio trains when run on its own.
        shared_batches: batches the whole sweep trains with trunk sharing (per seed).
        independent_batches: batches it would train without (per seed).
        reasons: why sharing is off, or why some ratios do not branch.
        unextended: with ``extend``, ``run_id -> why`` of each run that would train from scratch (no finished
            shorter run to continue, no kept trunk to extend): the sweep refuses those still to train.
    """
    runs: list[RunSpec]
    budgets: dict[float, int]
    shared_batches: int
    independent_batches: int
    reasons: list[str]
    unextended: dict[str, str] = dataclasses.field(default_factory=dict)

    def depends_on(self, run: RunSpec) -> Optional[str]:
        return run.trunk_id

    def cost_summary(self) -> str:
        """One line: trunk sharing's cost relative to the longest run, against independent runs."""
        full = max(self.budgets.values())
        if self.shared_batches >= self.independent_batches:
            return (f'no trunk sharing: {len(self.budgets)} ratios train {self.independent_batches / full:.2f}x '
                    'the longest run per seed.')
        saved = 1 - self.shared_batches / self.independent_batches
        return (f'trunk sharing: {len(self.budgets)} ratios train {self.shared_batches / full:.2f}x the longest run '
                f'per seed instead of {self.independent_batches / full:.2f}x ({saved:.0%} fewer batches).')


def parse_ratios(text: str) -> list[float]:
    """``'0.25,0.5,1'`` -> ``[0.25, 0.5, 1.0]`` (sorted, distinct).

    Raises:
        ValueError: a ratio that is not a finite number > 0, a repeated ratio, or an empty list.
    """
    out = []
    for item in str(text).split(','):
        # Plain decimals only: float() would also read '1_0' as 10 and 'infinity' as inf.
        try:
            out.append(check_ratio('--ratios', float(item) if _NUMBER.fullmatch(item) else float('nan')))
        except ValueError:  # name the item as written, within the whole list
            raise ValueError(f'--ratios={text!r} is not allowed: {item.strip()!r} is not a finite number > 0; give '
                             'comma-separated ratios such as 0.25,0.5,0.75,1.0.') from None
    if len(set(out)) != len(out):
        raise ValueError(f'--ratios={text!r} is not allowed: each ratio must appear once.')
    return sorted(out)


def ratio_text(ratio: float) -> str:
    """``ratio`` written so that distinct floats give distinct texts: ``'0.5'``, ``'1'``, ``'0.5000001'``.

    Example:
        >>> [ratio_text(r) for r in (1.0, 0.5, 0.5000001, 1e-7)]
        ['1', '0.5', '0.5000001', '1e-07']
    """
    short = f'{ratio:g}'
    return short if float(short) == ratio else repr(float(ratio))


def run_id(config_hash: str, ratio: float, seed: int) -> str:
    """The database key of a run: same recipe, ratio and seed, same key; distinct ratios, distinct keys."""
    return f'{config_hash}-r{ratio_text(ratio)}-s{seed}'


def _name(a) -> str:
    return a if isinstance(a, str) else type(a).__name__


def sharing_blocker(schedulers: Sequence, algorithms: Sequence = ()) -> Optional[str]:
    """Why runs of these schedulers and algorithms cannot share a trunk, or ``None`` when the preview decides.

    The preview decides when every learning rate is a function of time that the checkpoint restores exactly: a
    composer_sched setter algorithm (its schedule replaces the run's schedulers), else the run's own schedulers,
    of a method the registry marks ``budget_free_prefix``. Anything else runs independently, with this reason:
    loss-driven algorithms (AutoWU: when it switches from warm-up to decay depends on the loss), modifiers
    (they may keep run state that a branch would take from the trunk), other algorithms (they may depend on the
    budget) and other schedulers.

    Example:
        >>> from composer_sched.algorithms import WSD
        >>> sharing_blocker([], [WSD(t_cooldown='0.2dur')]) is None
        True
    """
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.algorithms.autowu import AutoWU
    from composer_sched.algorithms.roles import ScheduleAlgorithm
    from composer_sched.schedules.registry import get_method

    def budget_bound(method: str) -> str:
        return (f'runs are independent: {method!r} changes shape with the budget (its early learning rates depend '
                'on the run length), so shorter runs are not prefixes of longer ones.')

    setter = None
    for a in algorithms:
        if isinstance(a, AutoWU):
            return (f'runs are independent: {_name(a)} sets the learning rate from the training loss (when it '
                    'switches from warm-up to decay depends on the loss), so no run is a prefix of another.')
        role = getattr(a, 'schedule_role', None) if isinstance(a, ScheduleAlgorithm) else None
        if role == 'setter':
            setter = a
        elif role == 'modifier':
            return (f'runs are independent: the modifier {_name(a)} may keep run state of its own (a cool-down '
                    'remembers the LR where it starts), which a branch would restore from the trunk and the '
                    'preview does not compare.')
        elif role != 'scale':
            names = ', '.join(_name(x) for x in algorithms)
            return (f"runs are independent: the recipe's algorithms ({names}) may depend on the training budget, so "
                    'no run is a prefix of another.')
    if setter is not None:  # it replaces the run's schedulers: only its own schedule counts
        method = setter.scheduler.method
        return None if get_method(method).budget_free_prefix else budget_bound(method)
    if not schedulers:
        return 'runs are independent: the recipe has no scheduler to check.'
    from composer_sched.adapters.product import factors_of

    # A product of budget-free prefixes is one: each factor's early values do not depend on the budget.
    for s in factors_of(schedulers):
        if not isinstance(s, ComposerScheduler):
            return (f'runs are independent: {s!r} is not a composer_sched scheduler, so its prefix cannot be '
                    'checked.')
        if not get_method(s.method).budget_free_prefix:
            return budget_bound(s.method)
    return None


def _preview(schedulers, max_duration, ratio, dataloader_len, samples_per_batch, algorithms) -> np.ndarray:
    from composer_sched.adapters.durations import scaled_max_duration
    from composer_sched.previewing import preview

    if algorithms and not schedulers:
        # As the Trainer runs it: its ratio scales max_duration, and with no compiled scheduler to carry the ratio
        # the algorithms compose on the scaled horizon with ratio 1 (SchedulePlan.from_state).
        return preview([], scaled_max_duration(max_duration, ratio), dataloader_len=dataloader_len,
                       samples_per_batch=samples_per_batch, algorithms=algorithms)
    return preview(schedulers, max_duration, dataloader_len=dataloader_len, ssr=ratio,
                   samples_per_batch=samples_per_batch, algorithms=algorithms)


def warmup_only(curves: dict) -> list[str]:
    """A line per ratio whose run is all warm-up: its LR never decreases and ends below the longest run's peak
    (the run stops inside the warm-up, which Composer allows; see ``ScheduleSpec.all_warmup``).

    Example:
        >>> import numpy as np
        >>> lines = warmup_only({0.1: np.linspace(0.1, 0.5, 5), 1.0: np.r_[np.linspace(0.1, 1, 10), np.ones(40)]})
        >>> [line.split(':')[0] for line in lines]
        ['ratio 0.1 is warm-up only']
    """
    if not curves:
        return []
    peak = max(float(np.max(c)) for c in curves.values() if len(c))
    out = []
    for r in sorted(curves):
        c = curves[r]
        if len(c) and peak > 0 and float(c[-1]) < peak * (1 - 1e-9) and np.all(np.diff(c) >= 0) and c[-1] > c[0]:
            out.append(f'ratio {r:g} is warm-up only: its {len(c)} batches end inside the warm-up (the LR rises to '
                       f'{float(c[-1]) / peak:.2g} of the peak and never reaches it).')
    return out


def ratio_curves(target, ratios: Sequence[float]) -> dict[float, np.ndarray]:
    """The exact LR multiplier of every batch of each sweep ratio's run, as the planner previews it.

    Args:
        target: a :class:`~composer_sched.sweep.target.LoadedTarget`.
        ratios: sweep ratios (the recipe's own ratio is applied), each ``> 0`` and fitting the schedule.

    Raises:
        ValueError: as :func:`composer_sched.previewing.preview`.
    """
    return {r: _preview(target.schedulers(), target.sweep_max_duration, target.run_ratio(r), target.dataloader_len,
                        target.samples_per_batch, [a for a in target.algorithms() if not isinstance(a, str)])
            for r in ratios}


def branch_points(schedulers: Sequence, max_duration, ratios: Sequence[float], *, dataloader_len: Optional[int],
                  samples_per_batch: Optional[int] = None, algorithms: Sequence = (), drop_unfit: bool = False
                  ) -> tuple[dict[float, int], dict[float, int], list[str]]:
    """Where each ratio's run can branch from the longest ratio's run.

    Every ratio's schedule is previewed batch by batch (:func:`composer_sched.previewing.preview`, algorithms
    included) before anything trains; a ratio branches at the last batch ``b`` where its multipliers equal the
    trunk's on ``[0, b]``, when :func:`sharing_blocker` allows sharing at all.

    Args:
        schedulers: the recipe's Composer schedulers.
        max_duration: the recipe's unscaled ``max_duration``.
        ratios: the scale-schedule ratios the runs train with (each ``> 0``).
        dataloader_len: batches per epoch.
        samples_per_batch: batch size (for schedules placed in samples).
        algorithms: the recipe's algorithm objects (a name, a ``str``, stands for an algorithm that is not
            checked: it blocks sharing). Setters are previewed; scale algorithms must already be folded into
            ``ratios``.
        drop_unfit: leave out (with a reason) the ratios whose schedule does not fit, instead of raising.

    Returns:
        ``(budgets, points, reasons)``: batches of each ratio's run; the branch batch ``b >= 1`` of each ratio
        that branches (the longest ratio is the trunk and absent); why the others do not (and which ratios were
        left out). With ``drop_unfit``, ``budgets`` holds only the ratios kept.

    Raises:
        ValueError: a ratio reduces ``max_duration`` to zero or its schedule does not fit it (unless
            ``drop_unfit``, and another ratio fits), or a run longer than
            :data:`~composer_sched.previewing.MAX_PREVIEW_BATCHES` (the planner previews every batch).

    Example:
        >>> from composer_sched import WSDScheduler
        >>> branch_points([WSDScheduler(t_cooldown='0.2dur')], '100ba', [0.5, 1.0], dataloader_len=10)[1]
        {0.5: 41}
    """
    from composer_sched.adapters.durations import num_batches, scaled_max_duration
    from composer_sched.previewing import MAX_PREVIEW_BATCHES

    ratios = sorted(ratios)
    objects = [a for a in algorithms if not isinstance(a, str)]
    reasons: list[str] = []
    budgets: dict[float, int] = {}
    curves: dict[float, np.ndarray] = {}
    for r in ratios:  # every ratio must be a valid schedule, shared or not: fail before any training
        n = None
        try:
            n = num_batches(scaled_max_duration(max_duration, r), dataloader_len, samples_per_batch)
            if n <= MAX_PREVIEW_BATCHES:  # else refused below, before a preview allocates n floats
                if not schedulers and not objects:
                    raise ValueError('the recipe has neither schedulers nor schedule algorithms.')
                curves[r] = _preview(schedulers, max_duration, r, dataloader_len, samples_per_batch, objects)
                budgets[r] = n
        except ValueError as e:
            what = f'ratio {r:g}' + (f' ({n} batches)' if n else '')
            if not drop_unfit:
                raise ValueError(f'--ratios: {what} does not fit the schedule: {e}') from None
            reasons.append(f'ratio {r:g} is left out: it does not fit the schedule: {e}')
        if n is not None and n > MAX_PREVIEW_BATCHES:
            raise ValueError(f'--ratios: ratio {r:g} gives runs of {n:,} batches; a sweep plans at most '
                             f'{MAX_PREVIEW_BATCHES:,} batches per run: use a smaller ratio or max_duration.')
    if not budgets:
        raise ValueError(f'--ratios: no ratio fits the schedule: {"; ".join(reasons)}')
    ratios = sorted(budgets)
    reasons.extend(warmup_only(curves))
    if len(ratios) < 2:
        return budgets, {}, reasons
    blocker = sharing_blocker(schedulers, algorithms)
    if blocker:
        reasons.append(blocker)
        return budgets, {}, reasons

    top = ratios[-1]
    full = curves[top]
    points = {}
    for r in ratios[:-1]:
        short = curves[r]
        n = min(len(short), len(full))
        differ = np.flatnonzero(short[:n] != full[:n])
        common = int(differ[0]) if differ.size else n  # multipliers agree on [0, common)
        b = min(common - 1, len(short) - 1)  # agree on [0, b] and leave at least one batch to train
        if b >= max(1, MIN_SHARED_FRACTION * len(short)):
            points[r] = b
        else:  # a branch that reuses only a sliver of the trunk is not worth a checkpoint
            reasons.append(f'ratio {r:g} runs on its own: its learning rate differs from ratio {top:g} from batch '
                           f'{common} of {len(short)} on.')
    return budgets, points, reasons


def _stable_end(target, ratio: float) -> Optional[int]:
    """The last batch of the ratio's run that every longer run shares (its stable phase's end), or ``None``."""
    rr = target.run_ratio(ratio)
    try:
        _, points, _ = branch_points(target.schedulers(), target.sweep_max_duration, [rr, 2 * rr],
                                     dataloader_len=target.dataloader_len, samples_per_batch=target.samples_per_batch,
                                     algorithms=target.algorithms())
    except ValueError:
        return None
    return points.get(rr)


def shared_until(target, short: float, long: float) -> Optional[int]:
    """The last batch ``b`` where the run at sweep ratio ``short`` has the LR of the run at ``long`` on every batch
    of ``[0, b]`` (a checkpoint saved after ``b`` batches of the short run continues as the long run), or ``None``
    when the runs share no prefix (or one of them does not fit the schedule).

    Args:
        target: a :class:`~composer_sched.sweep.target.LoadedTarget`.
        short, long: sweep ratios, ``0 < short < long``.

    Example:
        >>> from composer_sched.sweep import SweepTarget
        >>> shared_until(SweepTarget(None, ('max_duration=2ep',)).load(), 1.0, 2.0)
        31
    """
    try:
        _, points, _ = branch_points(target.schedulers(), target.sweep_max_duration,
                                     [target.run_ratio(short), target.run_ratio(long)],
                                     dataloader_len=target.dataloader_len, samples_per_batch=target.samples_per_batch,
                                     algorithms=target.algorithms())
    except ValueError:
        return None
    return points.get(target.run_ratio(short))


def _kept(target, stable_dir: str, config_hash: str, top: float, seed: int,
          warnings: Optional[list] = None) -> Optional[tuple[float, int, str]]:
    """The kept stable-phase checkpoint of an earlier, shorter trunk that the ``top`` ratio's run continues
    exactly (its LR equals that run's on every batch up to the checkpoint): ``(ratio, batch, path)``, the latest.

    A file is chosen by its name and used only if its content agrees (:func:`_kept_problem`: readable, the
    recipe's fingerprint with this seed, saved at the batch its name says, the LR history of the shorter run);
    otherwise a warning naming the file goes to ``warnings`` and the trunk trains from scratch."""
    found = [(old, b, path) for old, (b,), path in _named(stable_dir, config_hash, f'-s{seed}-ba(\\d+)')
             if old < top and (shared_until(target, old, top) or -1) >= b]
    for old, b, path in sorted(found, key=lambda x: -x[1]):  # the latest that reads back as what it claims
        problem, _ = _kept_problem(target, path, old, seed, 'the kept trunk', b)
        if problem is None:
            return old, b, path
        if warnings is not None:
            warnings.append(f'warning: ignoring {path}: {problem}; ratio {top:g} seed {seed} trains its trunk from '
                            'scratch.')
    return None


def _kept_problem(target, path: str, old: float, seed: int, what: str,
                 batch: Optional[int] = None) -> tuple[Optional[str], int]:
    """Why the checkpoint ``path`` kept from the run at ratio ``old`` is not what its name says (``None``: it is),
    read from its content, and the batches it trained: readable, the recipe's fingerprint with this seed, saved
    after ``batch`` (``None``: at the end of that run), and that run's LR on every batch before.

    A target that is not a recipe file stamps nothing to check: a kept trunk (``batch`` given) is taken by its
    name, as before stamps existed; a final checkpoint is refused, since continuing it needs its LR history."""
    from composer_sched.recipes.checkpoints import fingerprint_difference, read_checkpoint

    try:
        info = read_checkpoint(path, what=what)
    except ValueError as e:
        return str(e).split(' is not allowed: ', 1)[-1].rstrip('.'), 0
    recipe = getattr(target, 'recipe', None)
    if recipe is None:
        return (None if batch is not None else
                'the recipe is not a recipe file (its checkpoints carry no stamp to check)'), batch or 0
    own = {**recipe.fingerprint(), 'seed': int(seed), 'world_size': int(getattr(target, 'world_size', 1))}
    diff = fingerprint_difference(info.fingerprint or {}, own)
    if diff:
        return f'it was trained with another recipe or seed ({"; ".join(diff)})', 0
    curve = ratio_curves(target, [old])[old] * float(recipe.lr)
    if batch is None and (info.batch != info.total or info.total != len(curve)):
        return f'it was saved after batch {info.batch} of {info.total}, not at the end of ratio {old:g} ' \
               f'({len(curve)} batches)', 0
    if batch is not None and info.batch != batch:
        return f'it was saved after batch {info.batch}, its name says {batch}', 0
    if not np.allclose(info.lrs, curve[:info.batch], rtol=1e-6, atol=1e-12):
        return f'its LR history is not that of ratio {old:g}', 0
    return None, int(info.batch)


def kept_finals(final_dir: Optional[str], config_hash: str, seed: int) -> list[tuple[float, str]]:
    """The final checkpoints kept in ``final_dir`` for this recipe configuration and seed, by name only:
    ``(ratio, path)``, ratios ascending (:func:`_final` reads and checks their content).

    Example:
        >>> kept_finals('no/such/folder', 'abc', 0)
        []
    """
    return sorted((ratio, path) for ratio, _, path in _named(final_dir, config_hash, f'-s{int(seed)}'))


def _named(folder: Optional[str], config_hash: str, rest: str) -> list[tuple[float, tuple[int, ...], str]]:
    """The checkpoints in ``folder`` named ``<config_hash>-r<ratio><rest>.pt`` (``rest`` a regular expression
    whose groups are integers): ``(ratio, groups, path)``, by name only; a missing folder holds none.

    Example:
        >>> _named('no/such/folder', 'abc', '-s0')
        []
    """
    if not folder or not os.path.isdir(folder):
        return []
    pattern = re.compile(rf'^{re.escape(config_hash)}-r(.+){rest}\.pt$')
    out = []
    for name in os.listdir(folder):
        m = pattern.match(name)
        if not m:
            continue
        try:
            out.append((float(m.group(1)), tuple(int(g) for g in m.groups()[1:]), os.path.join(folder, name)))
        except ValueError:  # a name that only looks like a run's
            continue
    return out


def _final(target, final_dir: Optional[str], config_hash: str, ratio: float, seed: int, budget: int,
           warnings: list) -> tuple[Optional[tuple[float, int, str]], str]:
    """The finished run this sweep's run at ``ratio`` continues under ``--extend``: the kept final checkpoint of
    the longest shorter run of this recipe and seed whose content reads back as what its name says (the recipe's
    fingerprint with this seed, the end of that ratio's run, its LR on every batch), as ``(ratio, batches, path)``;
    else ``None`` and why. A file that does not read back so is skipped with a warning in ``warnings``."""
    found = [(r, p) for r, p in kept_finals(final_dir, config_hash, seed) if r < ratio]
    problems = []
    for old, path in reversed(found):
        problem, n = _kept_problem(target, path, old, seed, 'the kept final checkpoint')
        if problem is None and n + 1 < budget:
            return (old, n, path), ''
        problems.append(f'{path}: {problem or f"its {n} batches leave fewer than 2 to train"}')
        if problem is not None:
            warnings.append(f'warning: ignoring {path}: {problem}.')
    where = os.path.join(final_dir or '.', f'{config_hash}-r*-s{seed}.pt')
    return None, ('no finished shorter run kept a usable final checkpoint (' + ('; '.join(problems) if problems else
                  f'none in {where}') + ') and no kept stable-phase checkpoint extends it')


def plan_sweep(target, ratios: Sequence[float], seeds: Sequence[int], checkpoint_dir: str,
               share_trunks: bool = True, drop_unfit: bool = False, stable_dir: Optional[str] = None,
               final_dir: Optional[str] = None, extend: bool = False) -> SweepPlan:
    """Plan a sweep of a loaded recipe (:meth:`SweepTarget.load`) over ``ratios`` x ``seeds``.

    A run at sweep ratio ``r`` trains with the ratio ``r`` times the recipe's own (its ``scale_schedule_ratio``
    and ``ScaleSchedule`` algorithms: :attr:`~composer_sched.sweep.target.LoadedTarget.recipe_ratio`); budgets
    and branch points are previewed at that ratio. Algorithms that set the schedule are planned from their
    preview; loss-driven ones (AutoWU) and modifiers run independently (see :func:`sharing_blocker`).

    Args:
        target: a :class:`~composer_sched.sweep.target.LoadedTarget`.
        ratios: sweep ratios, each ``> 0``.
        seeds: seeds, each ``>= 0``.
        checkpoint_dir: where trunks write their branch checkpoints.
        share_trunks: ``False`` runs every ratio independently.
        drop_unfit: leave out, with a reason, ratios whose schedule does not fit (the CLI's default ratios).
        stable_dir: with trunk sharing, each trunk keeps a checkpoint here at the last batch of its stable phase
            (:attr:`RunSpec.keep_at`), and a trunk that exactly continues a kept checkpoint of an earlier, shorter
            trunk (same recipe and seed) starts from it: a finished sweep extends to longer ratios paying only
            the new batches. ``None``: neither.
        final_dir: the longest ratio's run of each seed keeps its final checkpoint here (``<run_id>.pt``), which
            ``extend`` continues. ``None``: none kept.
        extend: runs that neither extend a kept trunk exactly nor branch from this sweep's trunk continue the
            finished run of the longest shorter ratio of their seed from its final checkpoint in ``final_dir``
            (:attr:`RunSpec.continue_from`); a run with nothing to continue is in :attr:`SweepPlan.unextended`.

    Raises:
        ValueError: a ratio reduces ``max_duration`` to zero or does not fit the schedule (see
            :func:`branch_points`).
    """
    config_hash = target.fingerprint
    run_ratio = {r: target.run_ratio(r) for r in ratios}
    if len(set(run_ratio.values())) != len(run_ratio):
        raise ValueError(f'--ratios={",".join(ratio_text(r) for r in ratios)} is not allowed: two ratios give the '
                         f'same run once multiplied by the recipe\'s own ratio {target.recipe_ratio:g}.')
    budgets, points, reasons = branch_points(
        target.schedulers(), target.sweep_max_duration, list(run_ratio.values()),
        dataloader_len=target.dataloader_len, samples_per_batch=target.samples_per_batch,
        algorithms=target.algorithms(), drop_unfit=drop_unfit)
    back = {v: r for r, v in run_ratio.items()}
    budgets = {back[v]: b for v, b in budgets.items()}
    points = {back[v]: b for v, b in points.items()}
    ratios = sorted(budgets)
    if not share_trunks:
        points = {}
        reasons = [x for x in reasons if 'left out' in x] + ['trunk sharing is off (--no-share).']
    if target.recipe_ratio != 1.0:
        reasons.insert(0, f"the recipe's own scale-schedule ratio {target.recipe_ratio:g} composes with the "
                          f'sweep\'s: ratio r trains with {target.recipe_ratio:g} x r.')
    top = max(ratios)
    runs: list[RunSpec] = []
    # Where trunks keep (and earlier sweeps kept) their stable-phase checkpoint: only when runs are prefixes.
    stable = (stable_dir if stable_dir is not None and share_trunks
              and sharing_blocker(target.schedulers(), target.algorithms()) is None else None)
    keep_b = _stable_end(target, top) if stable is not None else None
    unextended: dict[str, str] = {}
    autowu = _autowu_reason(target) if extend else None
    for seed in seeds:
        trunk = run_id(config_hash, top, seed)
        ckpt = {r: os.path.join(checkpoint_dir, f'{trunk}-ba{b}.pt') for r, b in points.items()}
        keep: tuple[tuple[int, str], ...] = ((keep_b, os.path.join(stable, f'{trunk}-ba{keep_b}.pt')),) \
            if stable is not None and keep_b else ()
        if final_dir is not None:  # what a later sweep's --extend continues: the longest run's end
            keep += ((budgets[top], os.path.join(final_dir, f'{trunk}.pt')),)
        old = _kept(target, stable, config_hash, top, seed, reasons) if stable is not None else None
        if extend and not old:  # no exact extension: each ratio continues a finished shorter run, or is refused
            _continued(target, ratios, budgets, seed, config_hash, final_dir, autowu, runs, unextended,
                                reasons)
            continue
        start = old[1] if old else 0
        if old:
            reasons.append(f'extending: ratio {top:g} seed {seed} continues the stable phase of ratio {old[0]:g} '
                           f'(its checkpoint kept at batch {old[1]} by an earlier sweep): it trains '
                           f'{budgets[top] - old[1]} of its {budgets[top]} batches.')
            runs.append(RunSpec(trunk, top, seed, save_at=tuple(sorted((b, ckpt[r]) for r, b in points.items()
                                                                       if b > start)),
                                load_from=old[2], branch_batch=old[1], trunk_id=run_id(config_hash, old[0], seed),
                                keep_at=keep))
        else:
            runs.append(RunSpec(trunk, top, seed, save_at=tuple(sorted((b, ckpt[r]) for r, b in points.items())),
                                keep_at=keep))
        for r in sorted(ratios, reverse=True)[1:]:
            if r in points and points[r] <= start:
                reasons.append(f'ratio {r:g} seed {seed} runs on its own: it branches at batch {points[r]}, before the '
                               f'kept checkpoint (batch {start}) its trunk starts from.')
                runs.append(RunSpec(run_id(config_hash, r, seed), r, seed))
            elif r in points:
                runs.append(RunSpec(run_id(config_hash, r, seed), r, seed, load_from=ckpt[r],
                                    branch_batch=points[r], trunk_id=trunk))
            else:
                runs.append(RunSpec(run_id(config_hash, r, seed), r, seed))
    independent = sum(budgets.values())
    # What each run trains (a branch: after its branch point; an extension or a continuation: after the batches
    # of the run it starts from), per seed.
    shared = sum(budgets[x.ratio] - (x.branch_batch or 0) for x in runs) // max(1, len(seeds))
    return SweepPlan(runs, budgets, shared, independent, reasons, unextended)


def _autowu_reason(target) -> Optional[str]:
    from composer_sched.algorithms.autowu import AutoWU

    if any(isinstance(a, AutoWU) for a in target.algorithms()):
        return ('an AutoWU run decides its warm-up and decay from the training loss as it goes (and has finished '
                'its decay), so there is no schedule to continue past its end')
    return None


def _continued(target, ratios, budgets: dict, seed: int, config_hash: str, final_dir: Optional[str],
               autowu: Optional[str], runs: list, unextended: dict, reasons: list) -> None:
    """``--extend`` without a kept trunk: each ratio of ``seed`` as the continuation of the finished run of the
    longest shorter ratio (its final checkpoint), appended to ``runs``; a ratio with none goes to ``unextended``."""
    for r in sorted(ratios, reverse=True):
        rid = run_id(config_hash, r, seed)
        src, why = (None, autowu) if autowu else _final(target, final_dir, config_hash, r, seed, budgets[r], reasons)
        if src is None:
            unextended[rid] = f'ratio {r:g} seed {seed}: {why}'
            runs.append(RunSpec(rid, r, seed))
            continue
        old, n, path = src
        reasons.append(f'continuing: ratio {r:g} seed {seed} continues the finished run of ratio {old:g} from its '
                       f'final checkpoint ({path}): it trains {budgets[r] - n} of its {budgets[r]} batches (a '
                       "re-warm, then the recipe's decay: close to, not the same as, a run from scratch).")
        runs.append(RunSpec(rid, r, seed, branch_batch=n, trunk_id=run_id(config_hash, old, seed),
                            continue_from=path, continue_ratio=old))
