"""Composer adapter: a registered method as a Composer scheduler (``__call__(state, ssr=1.0) -> multiplier``).

:class:`ComposerScheduler` takes the method by name; the class of each method with its explicit signature
(``WSDScheduler``, ...) is generated from the registry into :mod:`composer_sched.adapters.schedulers` (``make gen``).

The resolved core schedule is cached per ``(max_duration, dataloader_len, ssr)``: a call costs a key comparison and
one scalar evaluation, instead of the several ``Time`` conversions Composer's built-ins do on every batch.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

from composer_sched.adapters.durations import Unit, as_span, timestamp_field
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.schedules import Schedule
from composer_sched.schedules._base import ScalarOps
from composer_sched.schedules.registry import Method, check_horizon
from composer_sched.schedules.warmup import LinearWarmUp

if TYPE_CHECKING:  # this module imports no Composer: `composer-sched plot` builds these without torch
    from composer.core import State, Time

__all__ = ['ComposerScheduler', 'Duration', 'takes_ssr']

#: A duration argument: a Composer time string (``'100ba'``, ``'2ep'``, ``'6e4sp'``, ``'1e6tok'``, ``'0.2dur'``),
#: a ``Time``, or an int of batches.
Duration = Union[str, int, 'Time']


class ComposerScheduler:
    """A registered schedule method as a Composer scheduler, for ``Trainer(schedulers=...)``.

    Returns the LR multiplier :math:`\\alpha(t)` at the trainer's current time; several schedulers multiply.
    Durations are Composer time strings on the run's clock, placed as Composer's ``*WithWarmup`` schedulers place
    them: the warm-up overlays the start of the run, milestones stay where given, shapes span ``[t_warmup, t_max]``
    (see :func:`~composer_sched.adapters.spec.duration_role`). With ``Trainer(scale_schedule_ratio=r)``, absolute
    durations scale by ``r``, ``dur`` (a ``dur`` warm-up too) follows the scaled ``max_duration``, and an absolute
    warm-up does not scale unless ``scale_warmup=True`` (see :mod:`composer_sched.adapters.durations`).

    Args:
        method: registered method name, e.g. ``'wsd'``.
        **params: the method's parameters and the generic warm-up ones (``t_warmup``, ``warmup_type``,
            ``alpha_warmup``, ``scale_warmup``).

    Raises:
        ValueError: at construction, for an unknown method or parameter or a bad value; at the Trainer's
            construction (its first call), when the durations do not fit ``max_duration``.

    Example:
        >>> from composer_sched import ComposerScheduler
        >>> sched = ComposerScheduler('wsd', t_warmup='10ba', t_cooldown='0.2dur')
    """

    #: the registered method of a per-method class (``WSDScheduler.method_name == 'wsd'``); empty here.
    method_name: ClassVar[str] = ''

    def __init__(self, method: Union[str, Method], **params: Any):
        self.spec = ScheduleSpec(method, **params)
        self._key: Any = None
        self._fn: Any = None
        self._main: Any = None
        self._axis_attr = 'batch'

    @property
    def method(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        # The generic class names its method; a per-method class (WSDScheduler) already does by its name.
        name = self.method if self.spec.peer is None else self.spec.peer.key
        args = [repr(name)] if type(self) is ComposerScheduler else []
        args += [f'{k}={v!r}' for k, v in self.spec.user_params().items()]
        return f'{type(self).__name__}({", ".join(args)})'

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.spec == self.spec  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec))

    def __getstate__(self) -> dict[str, Any]:
        # The cache of the last horizon's schedule is rebuilt on the first call after unpickling.
        return {**self.__dict__, '_key': None, '_fn': None, '_main': None}

    def schedule(self, max_duration: Union[str, 'Time'], dataloader_len: Optional[int] = None,
                 ssr: float = 1.0) -> Schedule:
        """The core schedule (over the axis of :attr:`axis`) that a run with this (scaled) horizon follows."""
        md = as_span(max_duration)
        horizon = self.spec.horizon(md, ssr, None if dataloader_len is None else float(dataloader_len))
        sched = self.spec.build(horizon)
        # Growth and shrinking cycles are checked against the horizon here, at the Trainer's start, not midway.
        check_horizon(self.spec.method, sched, horizon.total, f'{self.spec!r} on max_duration='
                      f'{horizon.total:g}{horizon.axis.value} (ssr={horizon.ssr:g})')
        return sched

    def axis(self, max_duration: Union[str, 'Time']) -> Unit:
        """The time axis this scheduler reads (``Unit.BATCH``, ``SAMPLE`` or ``TOKEN``, by value Composer's
        ``TimeUnit``; :func:`~composer_sched.adapters.durations.timestamp_field` names the ``Timestamp`` field)."""
        return self.spec.horizon(as_span(max_duration), 1.0, 1.0).axis

    def __call__(self, state: 'State', ssr: float = 1.0) -> float:
        md, dl = state.max_duration, state.dataloader_len
        key = (md.value, md.unit, None if dl is None else dl.value, ssr)
        if key != self._key:
            self._compile(self.schedule(md, None if dl is None else int(dl.value), ssr))
            self._axis_attr = timestamp_field(self.axis(md))
            self._key = key
        t = float(getattr(state.timestamp, self._axis_attr).value)
        if t > self._ramp_end or (t == self._ramp_end and not self._shift):  # after the warm-up: the shape itself
            return self._main(t - self._offset, ScalarOps)
        return self._fn(t, ScalarOps)

    def _compile(self, sched: Schedule) -> None:
        # What a batch evaluates: past a generic warm-up, the wrapped shape directly (one frame less per batch
        # for the rest of the run), exactly as LinearWarmUp._eval would.
        self._fn = sched._eval
        self._main, self._ramp_end, self._offset, self._shift = sched._eval, math.inf, 0.0, True
        if isinstance(sched, LinearWarmUp) and sched.length > 0:
            self._main, self._ramp_end, self._shift = sched.schedule._eval, float(sched.length), sched.shift
            self._offset = float(sched.length) if sched.shift else 0.0


def takes_ssr(fn: Any) -> bool:
    """Whether a Composer scheduler takes ``(state, ssr)``; Composer allows a one-argument ``fn(state)`` too.
    When the signature cannot be read, assume the full protocol."""
    import inspect
    try:
        return len(inspect.signature(fn).parameters) >= 2
    except (TypeError, ValueError):
        return True
