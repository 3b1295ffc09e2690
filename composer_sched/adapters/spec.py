"""A registered method with its arguments checked: what both adapters build schedules from."""
from __future__ import annotations

import numbers
from typing import Any, Optional, Union

from composer.core import Time, TimeUnit

from composer_sched.adapters.durations import Horizon, axis_of, parse_duration
from composer_sched.schedules import Schedule
from composer_sched.schedules.registry import Method, Param, get_method, suggest
from composer_sched.schedules.warmup import warm_up

__all__ = ['ScheduleSpec', 'WARMUP_PARAMS']

#: Generic warm-up parameters every method accepts (the warm-up is a wrapper, never part of a shape).
WARMUP_PARAMS = (
    Param('t_warmup', '0ba', 'duration', 'warm-up length; not scaled by the scale-schedule ratio'),
    Param('warmup_type', 'linear', doc='warm-up ramp', choices=('linear', 'exponential')),
    Param('alpha_warmup', 0.0, doc='multiplier at the start of the warm-up (> 0 for exponential)', lo=0),
    Param('scale_warmup', False, doc='scale the warm-up with the ratio as well (its end included)'),
)


def _check_value(method: str, p: Param, value: Any) -> Any:
    where = f'{method}: {p.name}'
    if value is None and p.optional:
        return None
    if p.choices is not None:
        if value not in p.choices:
            raise ValueError(f'{where}={value!r} is not allowed: {p.name} must be one of '
                             f'{", ".join(map(repr, p.choices))}{suggest(value, p.choices)}.')
        return value
    if isinstance(p.default, bool):
        if not isinstance(value, bool):
            raise ValueError(f'{where}={value!r} is not allowed: {p.name} must be true or false.')
        return value
    if isinstance(value, (list, tuple)):
        return [_check_value(method, Param(f'{p.name}[{i}]', lo=p.lo, hi=p.hi), v) for i, v in enumerate(value)]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value or abs(value) == float('inf'):
        raise ValueError(f'{where}={value!r} is not allowed: {p.name} must be a finite number.')
    if (p.lo is not None and value < p.lo) or (p.hi is not None and value > p.hi):
        lo = '-inf' if p.lo is None else f'{p.lo:g}'
        hi = 'inf' if p.hi is None else f'{p.hi:g}'
        raise ValueError(f'{where}={value!r} is not allowed: {p.name} must be in [{lo}, {hi}].')
    return float(value)


class ScheduleSpec:
    """A registered method plus validated arguments; :meth:`build` places it on a training horizon.

    Args:
        method: a registered method name (see :func:`composer_sched.schedules.method_names`) or a ``Method``.
        t_warmup: warm-up length (Composer time string), default none. Not scaled by the ratio.
        warmup_type: ``'linear'`` or ``'exponential'``.
        alpha_warmup: multiplier at the start of the warm-up, ``>= 0`` (``> 0`` for exponential).
        scale_warmup: scale the warm-up with the ratio, its end included (default ``False``).
        **params: the method's own parameters (``composer-sched list`` shows them).

    Raises:
        ValueError: unknown method or parameter (with the closest valid names), a missing required parameter,
            or a value outside its range.
    """

    def __init__(self, method: Union[str, Method], **params: Any):
        self.method = get_method(method)
        known = {p.name: p for p in self.method.params + WARMUP_PARAMS}
        for name in params:
            if name not in known:
                raise ValueError(f'{self.method.name}: unknown parameter {name!r}{suggest(name, known)}; '
                                 f'parameters: {", ".join(known)}.')
        self.params: dict[str, Any] = {}
        self.durations: dict[str, Any] = {}
        for p in known.values():
            if p.name not in params and p.required:
                raise ValueError(f'{self.method.name}: parameter {p.name!r} is required ({p.doc}).')
            value = params.get(p.name, p.default)
            self.params[p.name] = value
            if p.kind == 'duration':
                self.durations[p.name] = parse_duration(f'{self.method.name}: {p.name}', value)
            elif p.kind == 'durations':
                if value is None and p.optional:
                    self.durations[p.name] = []
                    continue
                if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                    raise ValueError(f'{self.method.name}: {p.name}={value!r} is not allowed: {p.name} must be a '
                                     "list of durations such as ['30ep', '60ep'].")
                self.durations[p.name] = [parse_duration(f'{self.method.name}: {p.name}[{i}]', v)
                                          for i, v in enumerate(value)]
            else:
                self.params[p.name] = _check_value(self.method.name, p, value)
        if (self.params['warmup_type'] == 'exponential' and self.params['alpha_warmup'] <= 0
                and self.durations['t_warmup'].value > 0):
            raise ValueError(f"{self.method.name}: alpha_warmup={self.params['alpha_warmup']!r} is not allowed: "
                             'an exponential warm-up must start above 0.')
        flat = {}
        for name, d in self.durations.items():
            for i, t in enumerate(d if isinstance(d, list) else [d]):
                flat[f'{name}[{i}]' if isinstance(d, list) else name] = t
        #: the time axis fixed by explicit units (None: all in 'dur', follow max_duration)
        self.axis: Optional[TimeUnit] = axis_of({k: v for k, v in flat.items() if v.value != 0 or k != 't_warmup'})

    @property
    def name(self) -> str:
        return self.method.name

    def user_params(self) -> dict[str, Any]:
        """The arguments that differ from the defaults, as given."""
        defaults = {p.name: p.default for p in self.method.params + WARMUP_PARAMS}
        return {k: v for k, v in self.params.items() if v != defaults[k]}

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.user_params().items())
        return f'ScheduleSpec({self.method.name!r}{", " if args else ""}{args})'

    def horizon(self, max_duration: Time, ssr: float = 1.0, batches_per_epoch: Optional[float] = None) -> Horizon:
        """Place ``max_duration`` (already scaled) on this spec's time axis."""
        return Horizon.from_max_duration(max_duration, self.axis, ssr, batches_per_epoch)

    def warmup_length(self, horizon: Horizon) -> float:
        return horizon.warmup(self.durations['t_warmup'], self.params['scale_warmup'])

    def build(self, horizon: Horizon) -> Schedule:
        """The core schedule of multipliers on ``horizon``'s axis (time 0 = the start of training).

        Raises:
            ValueError: the warm-up does not fit in the horizon, or the resolved durations are inconsistent
                (e.g. a cool-down longer than training); the message names the method and its arguments.
        """
        warmup = self.warmup_length(horizon)
        span = horizon.total - warmup
        if span <= 0:
            raise ValueError(f"{self.method.name}: t_warmup={self.params['t_warmup']!r} ({warmup:g} "
                             f'{horizon.axis.value}) leaves no training after it: max_duration is '
                             f'{horizon.total:g} {horizon.axis.value}.')
        kwargs = {}
        for p in self.method.params:
            if p.kind == 'duration':
                kwargs[p.name] = horizon.resolve(f'{self.method.name}: {p.name}', self.durations[p.name], span)
            elif p.kind == 'durations':
                kwargs[p.name] = horizon.resolve_all(f'{self.method.name}: {p.name}', self.durations[p.name], span)
            else:
                kwargs[p.name] = self.params[p.name]
        try:
            main = self.method.build(**kwargs)
        except ValueError as e:
            raise ValueError(f'{self!r} on max_duration={horizon.total:g}{horizon.axis.value} '
                             f'(ssr={horizon.ssr:g}): {e}') from None
        return warm_up(main, warmup, start_lr=self.params['alpha_warmup'], kind=self.params['warmup_type'])
