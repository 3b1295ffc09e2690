"""Duration parsing and resolution shared by the Composer and PyTorch adapters.

Rules (the same for every registered method; Composer's ``*WithWarmup`` semantics):

* Durations are Composer time strings (``'500ba'``, ``'2ep'``, ``'60000sp'``, ``'1e6tok'``, ``'0.1dur'``), ``Time``
  objects, or ints (batches). They are resolved to floats on one time axis: batches (``ba`` and ``ep``), samples
  (``sp``) or tokens (``tok``). Mixing axes in one schedule is a ``ValueError``.
* Every duration is measured on the run's clock (time 0 = the start of training), the warm-up included.
* Absolute durations scale with the scale-schedule ratio ``ssr``: ``d -> d * ssr``, kept as a float so that the
  ratio law :math:`\\alpha_r(t) = \\alpha(t / r)` holds exactly (Composer int-truncates).
* ``dur`` durations are fractions of this run: the scaled ``max_duration`` (as Composer's ``_convert_time``).
* An absolute warm-up does not scale, unless ``scale_warmup=True``; then its whole extent scales, its end included.
  A ``dur`` warm-up is a fraction of this (scaled) run either way.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Optional, Sequence

from composer.core import Time, TimeUnit

__all__ = ['parse_duration', 'axis_of', 'Horizon', 'AXIS_UNITS']

AXIS_UNITS = (TimeUnit.BATCH, TimeUnit.SAMPLE, TimeUnit.TOKEN)
_AXIS_OF_UNIT = {TimeUnit.BATCH: TimeUnit.BATCH, TimeUnit.EPOCH: TimeUnit.BATCH,
                 TimeUnit.SAMPLE: TimeUnit.SAMPLE, TimeUnit.TOKEN: TimeUnit.TOKEN}


def parse_duration(name: str, value: Any) -> Time:
    """Parse one duration argument; a ``ValueError`` names the argument, the value and the accepted forms."""
    allowed = ("a Composer time string such as '100ba', '2ep', '6e4sp', '1e6tok' or '0.2dur', a Time, "
               'or a non-negative int of batches')
    if isinstance(value, Time):
        t = value
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        t = Time(int(value), TimeUnit.BATCH)
    elif isinstance(value, str):
        try:
            t = Time.from_timestring(value.strip())
        except (ValueError, TypeError, KeyError, OverflowError):  # '1e400ba': Composer's int(inf)
            raise ValueError(f'{name}={value!r} is not allowed: {name} must be {allowed}.') from None
    else:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be {allowed}.')
    if t.unit not in _AXIS_OF_UNIT and t.unit != TimeUnit.DURATION:
        raise ValueError(f'{name}={value!r} is not allowed: unit {t.unit.value!r} cannot place a schedule; '
                         f'{name} must be {allowed}.')
    if not math.isfinite(float(t.value)) or t.value < 0:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be finite and >= 0.')
    return t


def axis_of(named: dict[str, Time]) -> Optional[TimeUnit]:
    """The time axis fixed by explicit units, or ``None`` when every duration is in ``dur``."""
    axes = {}
    for name, t in named.items():
        if t.unit != TimeUnit.DURATION:
            axes.setdefault(_AXIS_OF_UNIT[t.unit], name)
    if len(axes) > 1:
        detail = ', '.join(f'{n}={named[n]} ({a.value})' for a, n in axes.items())
        raise ValueError(f'durations mix time axes: {detail}; give them all in batches/epochs, all in samples, '
                         "all in tokens, or as fractions of max_duration ('dur').")
    return next(iter(axes), None)


@dataclasses.dataclass(frozen=True)
class Horizon:
    """A training horizon on one time axis.

    Args:
        axis: ``TimeUnit.BATCH``, ``SAMPLE`` or ``TOKEN``.
        total: the (already scaled) ``max_duration`` in axis units.
        ssr: the scale-schedule ratio, ``> 0``.
        batches_per_epoch: needed to resolve ``ep`` durations.
    """
    axis: TimeUnit
    total: float
    ssr: float = 1.0
    batches_per_epoch: Optional[float] = None

    @classmethod
    def from_max_duration(cls, max_duration: Time, axis: Optional[TimeUnit], ssr: float = 1.0,
                          batches_per_epoch: Optional[float] = None) -> 'Horizon':
        """Place ``max_duration`` (already scaled, as on Composer's ``State``) on ``axis``."""
        md_axis = _AXIS_OF_UNIT.get(max_duration.unit)
        if md_axis is None:
            raise ValueError(f'max_duration={max_duration} cannot place a schedule: use ba, ep, sp or tok.')
        axis = axis or md_axis
        if md_axis != axis:
            raise ValueError(f'the schedule is placed in {axis.value} but max_duration={max_duration} is in '
                             f'{max_duration.unit.value}; give the durations in {max_duration.unit.value} or as '
                             "fractions ('dur').")
        total = float(max_duration.value)
        if max_duration.unit == TimeUnit.EPOCH:
            if batches_per_epoch is None:
                raise ValueError(f'max_duration={max_duration} is in epochs but the dataloader length is unknown.')
            total *= float(batches_per_epoch)
        return cls(axis=axis, total=total, ssr=float(ssr), batches_per_epoch=batches_per_epoch)

    def absolute(self, name: str, t: Time, scale: bool = True) -> float:
        """An absolute (non-``dur``) duration on this axis, times ``ssr`` when ``scale``."""
        if t.value == 0:  # zero is zero on any axis (the default warm-up is '0ba')
            return 0.0
        if t.unit == TimeUnit.EPOCH:
            if self.axis != TimeUnit.BATCH:
                raise ValueError(f'{name}={t} is in epochs but the schedule is placed in {self.axis.value}.')
            if self.batches_per_epoch is None:
                raise ValueError(f'{name}={t} is in epochs but the dataloader length is unknown.')
            value = float(t.value) * float(self.batches_per_epoch)
        elif _AXIS_OF_UNIT[t.unit] != self.axis:
            raise ValueError(f'{name}={t} is in {t.unit.value} but the schedule is placed in {self.axis.value}.')
        else:
            value = float(t.value)
        return value * self.ssr if scale else value

    def warmup(self, t: Time, scale_warmup: bool) -> float:
        """The warm-up length: a ``dur`` warm-up is a fraction of this (scaled) run, as in Composer; an absolute
        one is unscaled unless ``scale_warmup``."""
        if t.unit == TimeUnit.DURATION:
            return float(t.value) * self.total
        return self.absolute('t_warmup', t, scale=scale_warmup)

    def resolve(self, name: str, t: Time, span: Optional[float] = None) -> float:
        """A duration on the run's clock: ``dur`` is a fraction of ``span`` (default: the whole scaled run);
        absolute durations scale with ``ssr``."""
        if t.unit == TimeUnit.DURATION:
            return float(t.value) * (self.total if span is None else span)
        return self.absolute(name, t)

    def resolve_all(self, name: str, ts: Sequence[Time], span: Optional[float] = None) -> list[float]:
        return [self.resolve(f'{name}[{i}]', t, span) for i, t in enumerate(ts)]
