"""PyTorch adapter: a registered method (or any core schedule) as a ``torch.optim.lr_scheduler.LRScheduler``.

:class:`ScheduleLR` takes the method by name (or a core schedule): ``ScheduleLR(optimizer, 'wsd', total_steps,
...)`` is the PyTorch face of every registered method. (The per-method classes ``WSDLR``, ... are deprecated:
:mod:`composer_sched.adapters.torch_schedulers`.)

For plain PyTorch loops, Lightning or HF: call ``scheduler.step()`` once per optimizer step. The LR of param group
``i`` at step ``k`` is ``base_lr_i * alpha(k)`` (closed form: nothing else touching the LR can drift it).
``state_dict()`` holds the position only, so loading it into a scheduler built for a new horizon keeps the new
horizon (torch's own schedulers restore the old ``T_max``).
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Union, cast

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from composer_sched.adapters.durations import Horizon, Unit, check_ratio
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.schedules import Schedule
from composer_sched.schedules._base import ScalarOps, check_number
from composer_sched.schedules.registry import Method, check_horizon

__all__ = ['ScheduleLR']


class ScheduleLR(LRScheduler):
    """A registered method, or a core :class:`~composer_sched.schedules.Schedule`, as a PyTorch LR scheduler.

    .. math:: \\eta_i(k) = \\eta_{i,0}\\,\\alpha(k)

    (or :math:`\\eta_i(k) = s(k)` with ``absolute=True``)

    Args:
        optimizer: the optimizer; each param group keeps its own base LR (``initial_lr``).
        schedule: a registered method name (``'wsd'``), a peer's (``'cosine_with_min_lr'``, ``'hf/linear'``,
            ``'timm/cosine'``: :mod:`composer_sched.schedules.peers`) with the peer's arguments, or a core
            ``Schedule`` evaluated at the step index.
        total_steps: number of optimizer steps in training (required for a method name), ``> 0``. A peer's name
            defaults it to the length its arguments give (``num_training_steps``; timm: ``num_epochs`` or
            ``t_initial``, with the warm-up prefix and cool-down).
        steps_per_epoch: resolves ``'ep'`` durations. A timm name stepped per epoch defaults it to 1: step it once
            per epoch, as timm's ``scheduler.step(epoch)``; give it to step per batch along the same curve.
        absolute: with a core ``Schedule``, use its values as the LR itself (the tutorial's schedules are in
            absolute LRs) instead of as a multiplier of each group's base LR.
        last_epoch: as in torch (``-1`` to start).
        **params: the method's parameters; durations are ints (steps) or time strings (``'100ba'``,
            ``'0.2dur'``, ``'2ep'``).

    Raises:
        ValueError: unknown method or parameter, bad value, or durations that do not fit ``total_steps``.

    Example:
        >>> import torch
        >>> from composer_sched import ScheduleLR
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> sched = ScheduleLR(opt, 'wsd', total_steps=100, t_warmup=10, t_cooldown='0.2dur')
    """

    #: the registered method of a (deprecated) per-method class (``WSDLR.method_name == 'wsd'``); empty here.
    method_name: ClassVar[str] = ''

    def __init__(self, optimizer: Optimizer, schedule: Union[str, Method, Schedule], total_steps: Optional[int] = None,
                 *, steps_per_epoch: Optional[int] = None, absolute: bool = False, last_epoch: int = -1,
                 **params: Any):
        self.ssr = 1.0
        self.absolute = bool(absolute)
        self.spec: Optional[ScheduleSpec]
        self.total_steps: Optional[int]
        if isinstance(schedule, Schedule):
            if params:
                raise ValueError(f'parameters {sorted(params)} are not allowed with a Schedule object: '
                                 'they belong to a registered method name.')
            self.spec, self._core, self.total_steps = None, schedule, total_steps
        else:
            if absolute:
                raise ValueError('absolute=True is only allowed with a Schedule object, whose values are LRs; a '
                                 'registered method gives multipliers of each group\'s base LR.')
            self.spec = ScheduleSpec(schedule, base_lr=optimizer.defaults.get('lr'), **params)
            if self.spec.peer is not None:
                if total_steps is None:
                    total_steps = self.spec.peer_total()
                if steps_per_epoch is None and self.spec.peer_unit == 'ep':
                    steps_per_epoch = 1
            if total_steps is None:
                raise ValueError(f'total_steps=None is not allowed for method {self.spec.name!r}: give the number '
                                 'of optimizer steps in training.')
            check_number('total_steps', total_steps, lo=0, lo_open=True)
            self.total_steps = total_steps
            self.steps_per_epoch = steps_per_epoch
            self._core = self._build()
        super().__init__(optimizer, last_epoch)

    def _build(self) -> Schedule:
        # Only for a method name, where __init__ has set spec and total_steps.
        spec, total = cast(ScheduleSpec, self.spec), cast(int, self.total_steps)
        horizon = Horizon(axis=Unit.BATCH, total=float(total) * self.ssr, ssr=self.ssr,
                          batches_per_epoch=self.steps_per_epoch)
        if spec.axis not in (None, Unit.BATCH):
            raise ValueError(f'{spec!r}: a PyTorch scheduler counts optimizer steps; give durations in steps, '
                             "'ba', 'ep' or 'dur', not in samples or tokens.")
        sched = spec.build(horizon)
        check_horizon(spec.method, sched, horizon.total, f'{spec!r} on total_steps={total} (ssr={self.ssr:g})')
        return sched

    @property
    def core(self) -> Schedule:
        """The core schedule this scheduler evaluates at each step index."""
        return self._core

    def multiplier(self, step: float) -> float:
        """:math:`\\alpha(k)` (or the absolute LR) at step ``k``."""
        if self.spec is None and self.ssr != 1.0:
            step = step / self.ssr  # a bare core schedule is dilated in time as a whole
        return self._core._eval(float(step), ScalarOps)

    def get_lr(self) -> list[float]:
        value = self.multiplier(max(self.last_epoch, 0))
        if self.absolute:
            return [value for _ in self.base_lrs]
        return [base * value for base in self.base_lrs]

    def scale_schedule(self, ssr: float) -> None:
        """Dilate the schedule by ``ssr`` (the hook ``scale_scheduler`` calls): absolute durations and the total
        scale, an absolute warm-up does not (a ``dur`` one follows the total). A bare core schedule is dilated in
        time as a whole."""
        check_ratio('ssr', ssr)
        self.ssr = float(ssr)
        if self.spec is not None:
            self._core = self._build()
        self._set_lrs()

    def _set_lrs(self) -> None:
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group['lr'] = lr
        self._last_lr = [group['lr'] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The position only: ``{'last_epoch': k, '_step_count': n}``."""
        return {'last_epoch': self.last_epoch, '_step_count': self._step_count}

    def __repr__(self) -> str:
        # The generic class names its schedule; a (deprecated) per-method class (WSDLR) does by its name.
        args = [] if self.spec is not None and type(self) is not ScheduleLR else [
            repr(self._core if self.spec is None else self.spec.name)]
        args.append(f'total_steps={self.total_steps!r}')
        if self.spec is not None:
            args += [f'{k}={v!r}' for k, v in self.spec.user_params().items()]
        return f'{type(self).__name__}({", ".join(args)})'

    def _identity(self) -> tuple[Any, ...]:
        return (type(self), self.spec, self._core if self.spec is None else None, self.total_steps,
                getattr(self, 'steps_per_epoch', None), self.absolute, self.ssr, self.base_lrs, self.state_dict())

    def __eq__(self, other: object) -> bool:
        # Equal when it is the same schedule at the same position for the same base LRs (an unpickled copy is,
        # with a copy of the optimizer).
        return isinstance(other, ScheduleLR) and other._identity() == self._identity()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec, self.total_steps, self.last_epoch))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the position and set the LRs for it, on *this* scheduler's horizon and base LRs."""
        if not isinstance(state_dict, Mapping):
            raise ValueError(f'state_dict={state_dict!r} is not allowed: state_dict must be the dict '
                             'ScheduleLR.state_dict() returned.')
        for key in ('last_epoch', '_step_count'):
            if key not in state_dict:
                raise ValueError(f'state_dict has no {key!r}: it was not saved by ScheduleLR.')
        self.last_epoch = int(state_dict['last_epoch'])
        self._step_count = int(state_dict['_step_count'])
        self._set_lrs()
