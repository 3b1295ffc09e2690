"""The scheduler that applies a composed schedule batch by batch: :class:`ScheduleDriver`, installed by
:func:`install` as the only entry of ``state.schedulers``.

Timing is Composer's: batch :math:`k` trains with the value computed at the timestamp of batch
:math:`\\max(k-1, 0)`. The driver writes the LR at ``BATCH_START`` from the time recorded at the previous
``AFTER_TRAIN_BATCH`` (before the optimizer step, so the timestamp is that batch's), and steps the run's own
schedulers when the Trainer steps its schedulers (every batch, or every epoch with PyTorch schedulers), exactly as
Composer would have. Everything a resumed run needs (that time, the run schedulers' positions, modifier memos)
is in :meth:`ScheduleDriver.state_dict`, as plain Python types.

A preview replays the same driver on a stand-in state (:func:`composer_sched.previewing.simulate`), so a preview
and a run share one implementation.
"""
from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

from composer.core import State
from torch.optim.lr_scheduler import LRScheduler

from composer_sched.adapters.compiled import unwrap_compiled
from composer_sched.adapters.composer import takes_ssr
from composer_sched.adapters.durations import timestamp_field
from composer_sched.algorithms.plan import SchedulePlan, compose, is_foreign_scale, leader, scale_torch

__all__ = ['ScheduleDriver', 'install', 'find_driver']



def _group_bases(optimizer: Any) -> list[float]:
    bases = []
    for g in optimizer.param_groups:
        g.setdefault('initial_lr', g['lr'])
        bases.append(float(g['initial_lr']))
    return bases


def _no_step() -> None:  # pragma: no cover - never called
    raise RuntimeError('the shadow param groups are not an optimizer')


# torch's LRScheduler.step() looks for these marks on ``optimizer.step`` to warn about call order.
_no_step._wrapped_by_lr_sched = True  # type: ignore[attr-defined]


class _Shadow:
    """Param groups the run's PyTorch schedulers write to instead of the optimizer's, so a chainable scheduler
    (``MultiStepLR`` reads ``group['lr']``) never sees the modified LR."""

    def __init__(self, groups: Sequence[dict]):
        self.param_groups = [{k: v for k, v in g.items() if k != 'params'} for g in groups]
        self.step = _no_step
        self._opt_called = True


def _time_of(state: Any) -> dict[str, float]:
    ts = state.timestamp
    return {'batch': float(ts.batch.value), 'sample': float(ts.sample.value), 'token': float(ts.token.value)}


class ScheduleDriver:
    """The single scheduler in ``state.schedulers`` of a run with composer_sched schedule algorithms.

    The multiplier of param group :math:`i` for the batch after time :math:`t` is

    .. math:: \\alpha_i = M_n \\circ \\dots \\circ M_1\\big(\\prod_j r_{ij}\\cdot s(t)\\big)

    with :math:`r_{ij}` the run's own schedulers (they multiply; stepped when the Trainer steps schedulers),
    :math:`s` the setter's schedule (1 without a setter) and :math:`M` the modifiers in order; the LR is
    :math:`\\eta_i = \\eta_{i,0}\\,\\alpha_i`. The plan's ratio (ScaleSchedule) applies to all of them.

    Args:
        optimizer: the run's optimizer (one).
        plan: the composed :class:`~composer_sched.algorithms.plan.SchedulePlan`.
        state: the Composer ``State`` (or a preview's stand-in) whose timestamp drives the schedule.

    Raises:
        ValueError: a duration of the setter or a modifier does not fit the run (before the first batch).

    Example:
        >>> import torch
        >>> from composer.core import Time
        >>> from composer_sched.adapters.durations import ReplayState
        >>> from composer_sched.algorithms.plan import SchedulePlan
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> md = Time.from_timestring('10ba')
        >>> halve = lambda state, ssr=1.0: 0.5
        >>> driver = ScheduleDriver(opt, SchedulePlan(md, None, run_schedulers=[halve, halve]), ReplayState(md))
        >>> driver.get_last_lr()
        [0.025]
    """

    def __init__(self, optimizer: Any, plan: SchedulePlan, state: Any):
        self.optimizer = optimizer
        self.plan = plan
        self.state = state
        self.bases = _group_bases(optimizer)
        self._shadow = _Shadow(optimizer.param_groups)
        self._torch = [s for s in plan.run_schedulers if isinstance(s, LRScheduler)]
        self._composer = [(s, takes_ssr(s)) for s in plan.run_schedulers if not isinstance(s, LRScheduler)]
        # The PyTorch schedulers were built on the real optimizer: start the shadow at their current LRs.
        for s in self._torch:
            for g, lr in zip(self._shadow.param_groups, s.get_last_lr()):
                g['lr'] = lr
            s.optimizer = self._shadow  # type: ignore[assignment]  # duck-typed: param_groups is all it reads
        if plan.setter is not None:
            plan.setter.check_optimizer(optimizer)
        self._build()
        self.t_prev: Optional[dict[str, float]] = None
        self.memos: list[dict] = [{} for _ in self._modifiers]
        self.run_alphas = self._run_alphas()
        self.apply_lr()

    def _build(self) -> None:
        # Resolve the setter's and the modifiers' durations on the plan's (possibly dilated) horizon.
        plan = self.plan
        md, dl, ssr = plan.max_duration, plan.dataloader_len, plan.ssr
        self._setter = None
        if plan.setter is not None:
            sched = plan.setter.scheduler
            self._setter = (sched.schedule(md, dl, ssr), timestamp_field(sched.axis(md)))
        self._modifiers = [(m, m.build_modifier(plan)) for m in plan.modifiers]

    def scale_schedule(self, ratio: float) -> None:
        """Dilate the composed schedule by ``ratio`` after it was installed: the hook a scale algorithm that acts
        on its own calls once it has scaled ``state.max_duration`` itself."""
        self.plan.ssr *= float(ratio)
        self.plan.max_duration = self.state.max_duration
        for s in self._torch:
            scale_torch(s, ratio)
        self._build()
        self.run_alphas = self._run_alphas()
        self.apply_lr()

    def _run_alphas(self) -> list[float]:
        a = 1.0
        for s, two_args in self._composer:
            a *= float(s(self.state, self.plan.ssr) if two_args else s(self.state))
        alphas = [a] * len(self.bases)
        if self._torch:
            alphas = [x * (float(g['lr']) / b if b else 0.0)
                      for x, g, b in zip(alphas, self._shadow.param_groups, self.bases)]
        return alphas

    # -- called by the Trainer --------------------------------------------------------------------------------
    def step(self) -> None:
        """Step the run's own schedulers (the Trainer calls this every batch, or every epoch with PyTorch ones)."""
        for s in self._torch:
            s.step()
        self.run_alphas = self._run_alphas()

    def get_last_lr(self) -> list[float]:
        return [float(g['lr']) for g in self.optimizer.param_groups]

    # -- called by the leader algorithm -----------------------------------------------------------------------
    def record_time(self) -> None:
        """At ``AFTER_TRAIN_BATCH``: the time the next batch's LR is computed at (this batch's timestamp)."""
        self.t_prev = _time_of(self.state)

    def multipliers(self) -> tuple[list[float], Optional[float]]:
        """The multiplier per param group for the coming batch, and the setter's own value (or None)."""
        t = self.t_prev or _time_of(self.state)
        alphas = list(self.run_alphas)
        own = None
        if self._setter is not None:
            core, attr = self._setter
            own = float(core(t[attr]))
            alphas = [a * own for a in alphas]
        for (m, fn), memo in zip(self._modifiers, self.memos):
            alphas = [float(a) for a in fn(alphas, t[timestamp_field(fn.axis)], memo)]
        return alphas, own

    def apply_lr(self) -> None:
        """At ``BATCH_START``: write this batch's LR (and the setter's extras, such as momentum)."""
        alphas, own = self.multipliers()
        for g, base, a in zip(self.optimizer.param_groups, self.bases, alphas):
            g['lr'] = base * a
        if own is not None and self.plan.setter is not None:
            self.plan.setter.after_lr(self.optimizer, own)

    # -- checkpointing ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain types only: the recorded time, the run schedulers' multipliers and positions, modifier memos."""
        return {'t_prev': None if self.t_prev is None else dict(self.t_prev),
                'run_alphas': list(self.run_alphas),
                'memos': copy.deepcopy(self.memos),
                'shadow_lrs': [float(g['lr']) for g in self._shadow.param_groups],
                'torch': [s.state_dict() for s in self._torch]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved, then rewrite the LR for the coming batch.

        Raises:
            ValueError: ``state_dict`` was not saved by a driver, or by one with other schedulers or modifiers.
        """
        missing = {'t_prev', 'run_alphas', 'memos', 'shadow_lrs', 'torch'} - set(state_dict)
        if missing:
            raise ValueError(f'state_dict lacks {sorted(missing)}: it was not saved by ScheduleDriver.')
        if len(state_dict['torch']) != len(self._torch) or len(state_dict['memos']) != len(self.memos):
            raise ValueError('the checkpoint was saved with other schedulers or schedule modifiers than this run has: '
                             'resume with the same schedule algorithms and schedulers.')
        self.t_prev = None if state_dict['t_prev'] is None else dict(state_dict['t_prev'])
        self.run_alphas = [float(a) for a in state_dict['run_alphas']]
        self.memos = copy.deepcopy(state_dict['memos'])
        for g, lr in zip(self._shadow.param_groups, state_dict['shadow_lrs']):
            g['lr'] = float(lr)
        for s, sd in zip(self._torch, state_dict['torch']):
            s.load_state_dict(sd)
        self.apply_lr()


def find_driver(state: State) -> Optional[ScheduleDriver]:
    """The :class:`ScheduleDriver` in ``state.schedulers``, or None."""
    return next((s for s in state.schedulers if isinstance(s, ScheduleDriver)), None)


def install(state: State) -> ScheduleDriver:
    """Compose ``state.algorithms``' schedule algorithms over ``state.schedulers`` and install the driver as the
    only scheduler (at ``Event.BEFORE_LOAD``, by the leader).

    Raises:
        ValueError: as :meth:`SchedulePlan.from_state`, :func:`compose` and :class:`ScheduleDriver`.
    """
    plan = compose(SchedulePlan.from_state(state), state.algorithms)
    # A scale algorithm that acts on its own and ran before the leader has already scaled max_duration and the
    # run's schedulers: the setter's and modifiers' durations must follow its ratio too. A compiled Composer
    # scheduler carries it already (it was re-bound with the Trainer's ratio times that one, and from_state read
    # it back); without one, the plan takes it from the algorithm. One that runs after the leader calls
    # ScheduleDriver.scale_schedule instead.
    if not any(unwrap_compiled(s) is not None for s in state.schedulers):
        first = state.algorithms.index(leader(state.algorithms))
        for a in state.algorithms[:first]:
            if is_foreign_scale(a):
                plan.ssr *= float(a.ratio)
    state.max_duration = plan.max_duration
    driver = ScheduleDriver(optimizer=state.optimizers[0], plan=plan, state=state)
    state.schedulers = [driver]  # type: ignore[list-item]  # the Trainer only calls step() and state_dict()
    return driver
