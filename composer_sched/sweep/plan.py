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
import math
import os
from typing import Optional, Sequence

import numpy as np

#: A ratio branches only if the trunk covers at least this share of its batches.
MIN_SHARED_FRACTION = 0.1

__all__ = ['RunSpec', 'SweepPlan', 'parse_ratios', 'branch_points', 'plan_sweep', 'run_id']


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
    """
    run_id: str
    ratio: float
    seed: int
    save_at: tuple[tuple[int, str], ...] = ()
    load_from: Optional[str] = None
    branch_batch: Optional[int] = None
    trunk_id: Optional[str] = None


@dataclasses.dataclass
class SweepPlan:
    """Every run of a sweep, trunks first, and what sharing saves.

    Attributes:
        runs: all runs (trunk, then its branches, per seed; then independent runs).
        budgets: batches each ratio trains when run on its own.
        shared_batches: batches the whole sweep trains with trunk sharing (per seed).
        independent_batches: batches it would train without (per seed).
        reasons: why sharing is off, or why some ratios do not branch.
    """
    runs: list[RunSpec]
    budgets: dict[float, int]
    shared_batches: int
    independent_batches: int
    reasons: list[str]

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
        try:
            r = float(item)
        except ValueError:
            r = float('nan')
        if not (math.isfinite(r) and r > 0):
            raise ValueError(f'--ratios={text!r} is not allowed: {item.strip()!r} is not a finite number > 0; give '
                             'comma-separated ratios such as 0.25,0.5,0.75,1.0.')
        out.append(r)
    if len(set(out)) != len(out):
        raise ValueError(f'--ratios={text!r} is not allowed: each ratio must appear once.')
    return sorted(out)


def run_id(config_hash: str, ratio: float, seed: int) -> str:
    """The database key of a run: same recipe, ratio and seed, same key."""
    return f'{config_hash}-r{ratio:g}-s{seed}'


def branch_points(schedulers: Sequence, max_duration, ratios: Sequence[float], *, dataloader_len: Optional[int],
                  samples_per_batch: Optional[int] = None, algorithms: Sequence[str] = ()
                  ) -> tuple[dict[float, int], dict[float, int], list[str]]:
    """Where each ratio's run can branch from the longest ratio's run.

    Args:
        schedulers: the recipe's Composer schedulers.
        max_duration: the recipe's unscaled ``max_duration``.
        ratios: the sweep's ratios (each ``> 0``).
        dataloader_len: batches per epoch.
        samples_per_batch: batch size (for schedules placed in samples).
        algorithms: names of the recipe's algorithms; any of them may depend on the budget, so none is allowed.

    Returns:
        ``(budgets, points, reasons)``: batches of each ratio's run; the branch batch ``b >= 1`` of each ratio
        that branches (the longest ratio is the trunk and absent); why the others do not.

    Raises:
        ValueError: a ratio reduces ``max_duration`` to zero.

    Example:
        >>> from composer_sched import WSDScheduler
        >>> branch_points([WSDScheduler(t_cooldown='0.2dur')], '100ba', [0.5, 1.0], dataloader_len=10)[1]
        {0.5: 40}
    """
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.previewing import num_batches, preview, scaled_max_duration
    from composer_sched.schedules.registry import get_method

    ratios = sorted(ratios)
    budgets = {r: num_batches(scaled_max_duration(max_duration, r), dataloader_len, samples_per_batch)
               for r in ratios}
    def values(r):
        try:
            return preview(schedulers, max_duration, dataloader_len=dataloader_len, ssr=r,
                           samples_per_batch=samples_per_batch)
        except ValueError as e:
            raise ValueError(f'--ratios: ratio {r:g} ({budgets[r]} batches) does not fit the schedule: {e}') from None

    reasons: list[str] = []
    for r in ratios:  # every ratio must be a valid schedule, shared or not: fail before any training
        values(r)
    if len(ratios) < 2:
        return budgets, {}, reasons
    if algorithms:
        reasons.append(f'runs are independent: the recipe\'s algorithms ({", ".join(algorithms)}) may depend on the '
                       'training budget, so no run is a prefix of another.')
        return budgets, {}, reasons
    if not schedulers:
        reasons.append('runs are independent: the recipe has no scheduler to check.')
        return budgets, {}, reasons
    for s in schedulers:
        if not isinstance(s, ComposerScheduler):
            reasons.append(f'runs are independent: {s!r} is not a composer_sched scheduler, so its prefix cannot be '
                           'checked.')
            return budgets, {}, reasons
        if not get_method(s.method).budget_free_prefix:
            reasons.append(f'runs are independent: {s.method!r} changes shape with the budget (its early learning '
                           'rates depend on the run length), so shorter runs are not prefixes of longer ones.')
            return budgets, {}, reasons

    top = ratios[-1]
    full = values(top)
    points = {}
    for r in ratios[:-1]:
        short = values(r)
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


def plan_sweep(target, ratios: Sequence[float], seeds: Sequence[int], checkpoint_dir: str,
               share_trunks: bool = True) -> SweepPlan:
    """Plan a sweep of a loaded recipe (:meth:`SweepTarget.load`) over ``ratios`` x ``seeds``.

    Args:
        target: a :class:`~composer_sched.sweep.target.LoadedTarget`.
        ratios: scale-schedule ratios, each ``> 0``.
        seeds: seeds, each ``>= 0``.
        checkpoint_dir: where trunks write their branch checkpoints.
        share_trunks: ``False`` runs every ratio independently.

    Raises:
        ValueError: a ratio reduces ``max_duration`` to zero.
    """
    config_hash = target.fingerprint
    budgets, points, reasons = branch_points(
        target.schedulers(), target.sweep_max_duration, ratios, dataloader_len=target.dataloader_len,
        samples_per_batch=target.samples_per_batch, algorithms=target.algorithm_names())
    if not share_trunks:
        points, reasons = {}, ['trunk sharing is off (--no-share).']
    top = max(ratios)
    runs: list[RunSpec] = []
    for seed in seeds:
        trunk = run_id(config_hash, top, seed)
        ckpt = {r: os.path.join(checkpoint_dir, f'{trunk}-ba{b}.pt') for r, b in points.items()}
        runs.append(RunSpec(trunk, top, seed, save_at=tuple(sorted((b, ckpt[r]) for r, b in points.items()))))
        for r in sorted(ratios, reverse=True)[1:]:
            if r in points:
                runs.append(RunSpec(run_id(config_hash, r, seed), r, seed, load_from=ckpt[r],
                                    branch_batch=points[r], trunk_id=trunk))
            else:
                runs.append(RunSpec(run_id(config_hash, r, seed), r, seed))
    independent = sum(budgets.values())
    shared = independent - sum(points.values())
    return SweepPlan(runs, budgets, shared, independent, reasons)
