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

Also here, as every layer above needs them: :func:`check_ratio` (the one validation of a scale-schedule ratio),
:func:`scaled_max_duration` (the Trainer's scaling of ``max_duration``), :func:`num_batches` (how many batches a run
trains) and :class:`ReplayState` (the few ``State`` fields a Composer scheduler reads, advanced as the Trainer does).

Durations are read without importing Composer (:class:`Span`, :class:`Unit`: Composer's grammar and unit values,
``tests/adapters/test_time_strings.py`` holds them to ``Time.from_timestring``), so the adapters, the preview and the
``plot``/``bound`` commands load neither torch nor Composer; Composer's ``Time`` and ``TimeUnit`` are accepted
wherever a duration or an axis is, and only :func:`scaled_max_duration` and :class:`ReplayState` make Composer objects.
"""
from __future__ import annotations

import dataclasses
import enum
import math
import numbers
import re
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from composer_sched.schedules._base import ParamError

if TYPE_CHECKING:
    from composer.core import Time

__all__ = ['parse_duration', 'axis_of', 'Horizon', 'AXIS_UNITS', 'check_ratio', 'scaled_max_duration', 'num_batches',
           'ReplayState', 'Unit', 'Span', 'as_span', 'as_unit', 'scaled_span', 'timestamp_field']


class Unit(enum.Enum):
    """The units of a duration, with Composer's ``TimeUnit`` values; this module reads durations without importing
    Composer (``composer-sched plot`` and ``bound`` answer without torch), and takes Composer's ``Time`` and
    ``TimeUnit`` wherever it takes these (compared by value: :func:`as_unit`)."""
    EPOCH = 'ep'
    BATCH = 'ba'
    SAMPLE = 'sp'
    TOKEN = 'tok'
    DURATION = 'dur'
    ITERATION = 'iter'
    SECOND = 'sec'


@dataclasses.dataclass(frozen=True)
class Span:
    """A duration: ``value`` (an int, or a float for ``dur``) in ``unit``; ``str`` is Composer's time string."""
    value: Union[int, float]
    unit: Unit

    def __str__(self) -> str:
        return f'{self.value}{self.unit.value}'


AXIS_UNITS = (Unit.BATCH, Unit.SAMPLE, Unit.TOKEN)
_AXIS_OF_UNIT = {Unit.BATCH: Unit.BATCH, Unit.EPOCH: Unit.BATCH, Unit.SAMPLE: Unit.SAMPLE, Unit.TOKEN: Unit.TOKEN}
_FIELD = {Unit.BATCH: 'batch', Unit.SAMPLE: 'sample', Unit.TOKEN: 'token'}
# Composer's grammar (composer.core.time: a number, then a unit's value, any case), and its h/m/s wall-clock form
_TIME_STRING = re.compile(r'^(.+)(' + '|'.join(u.value for u in Unit) + r')$', re.IGNORECASE)
_WALL_CLOCK = re.compile(r'^(\d+h)?(\d+m)?(\d+s)?$')


def as_unit(unit: Any) -> Unit:
    """``unit`` as a :class:`Unit`: a ``Unit``, Composer's ``TimeUnit`` (by its value) or a unit string."""
    return unit if isinstance(unit, Unit) else Unit(getattr(unit, 'value', unit).lower())


def timestamp_field(axis: Any) -> str:
    """The field of Composer's ``Timestamp`` an axis is read from (``'batch'``, ``'sample'``, ``'token'``)."""
    return _FIELD[as_unit(axis)]


def _wall_clock(text: str) -> Optional[int]:
    """Seconds, as Composer's ``Time.from_timedelta`` reads ``'1h30m'`` first (its quirks included: a missing
    unit is filled in, so ``'5'`` is 50 s), or ``None`` when it refuses the string."""
    import datetime

    if 'h' not in text:
        text = '0h' + text
    if 'm' not in text:
        text = text.replace('h', 'h0m')
    if 's' not in text:
        text += '0s'
    if not _WALL_CLOCK.match(text):
        return None
    try:
        t = datetime.datetime.strptime(text, '%Hh%Mm%Ss')
    except ValueError:
        return None
    return t.hour * 3600 + t.minute * 60 + t.second


def _from_string(text: str) -> Span:
    """Composer's ``Time.from_timestring`` without Composer: the same accepted forms, values and errors."""
    seconds = _wall_clock(text)
    if seconds is not None:
        return Span(seconds, Unit.SECOND)
    match = _TIME_STRING.match(text)
    if match is None:
        raise ValueError(f'Invalid time string: {text}')
    unit = Unit(match.group(2).lower())
    value: Union[int, float] = float(match.group(1))
    if unit != Unit.DURATION:
        if int(value) != value:
            raise TypeError(f'value {value} is not an integer. Units {unit} require integer values.')
        value = int(value)
    return Span(value, unit)


def as_span(value: Any, int_unit: Unit = Unit.BATCH) -> Span:
    """A :class:`Span` from a ``Span``, Composer's ``Time``, a time string, or an int in ``int_unit``.

    Raises:
        ValueError, TypeError, OverflowError: as Composer's ``Time.from_timestring``.

    Example:
        >>> str(as_span('0.25dur')), as_span(' 3EP '.strip()), as_span(7, Unit.EPOCH).unit
        ('0.25dur', Span(value=3, unit=<Unit.EPOCH: 'ep'>), <Unit.EPOCH: 'ep'>)
    """
    if isinstance(value, Span):
        return value
    if isinstance(value, str):
        return _from_string(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return Span(int(value), int_unit)
    if hasattr(value, 'unit') and hasattr(value, 'value'):  # Composer's Time
        return Span(value.value, as_unit(value.unit))
    raise TypeError(f'{value!r} is not a duration')


def parse_duration(name: str, value: Any) -> Span:
    """Parse one duration argument; a ``ValueError`` names the argument, the value and the accepted forms."""
    allowed = ("a Composer time string such as '100ba', '2ep', '6e4sp', '1e6tok' or '0.2dur', a Time, "
               'or a non-negative int of batches')
    if isinstance(value, bool) or not (isinstance(value, (str, numbers.Integral, Span))
                                       or (hasattr(value, 'unit') and hasattr(value, 'value'))):
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be {allowed}.')
    try:
        t = as_span(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, KeyError, OverflowError):  # '1e400ba': int(inf)
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be {allowed}.') from None
    if t.unit not in _AXIS_OF_UNIT and t.unit != Unit.DURATION:
        raise ValueError(f'{name}={value!r} is not allowed: unit {t.unit.value!r} cannot place a schedule; '
                         f'{name} must be {allowed}.')
    if not math.isfinite(float(t.value)) or t.value < 0:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be finite and >= 0.')
    return t


def axis_of(named: dict[str, Any]) -> Optional[Unit]:
    """The time axis fixed by explicit units, or ``None`` when every duration is in ``dur``."""
    axes: dict[Unit, str] = {}
    for name, t in named.items():
        unit = as_unit(t.unit)
        if unit != Unit.DURATION:
            axes.setdefault(_AXIS_OF_UNIT[unit], name)
    if len(axes) > 1:
        detail = ', '.join(f'{n}={named[n]} ({a.value})' for a, n in axes.items())
        raise ValueError(f'durations mix time axes: {detail}; give them all in batches/epochs, all in samples, '
                         "all in tokens, or as fractions of max_duration ('dur').")
    return next(iter(axes), None)


@dataclasses.dataclass(frozen=True)
class Horizon:
    """A training horizon on one time axis.

    Args:
        axis: ``Unit.BATCH``, ``SAMPLE`` or ``TOKEN`` (Composer's ``TimeUnit`` is taken too).
        total: the (already scaled) ``max_duration`` in axis units.
        ssr: the scale-schedule ratio, ``> 0``.
        batches_per_epoch: needed to resolve ``ep`` durations.
    """
    axis: Unit
    total: float
    ssr: float = 1.0
    batches_per_epoch: Optional[float] = None

    def __post_init__(self):
        object.__setattr__(self, 'axis', as_unit(self.axis))

    @classmethod
    def from_max_duration(cls, max_duration: Any, axis: Optional[Any], ssr: float = 1.0,
                          batches_per_epoch: Optional[float] = None) -> 'Horizon':
        """Place ``max_duration`` (already scaled, as on Composer's ``State``; a ``Span``, ``Time`` or string) on
        ``axis``."""
        max_duration = as_span(max_duration)
        axis = None if axis is None else as_unit(axis)
        md_axis = _AXIS_OF_UNIT.get(max_duration.unit)
        if md_axis is None:
            raise ValueError(f'max_duration={max_duration} cannot place a schedule: use ba, ep, sp or tok.')
        axis = axis or md_axis
        if md_axis != axis:
            raise ValueError(f'the schedule is placed in {axis.value} but max_duration={max_duration} is in '
                             f'{max_duration.unit.value}; give the durations in {max_duration.unit.value} or as '
                             "fractions ('dur').")
        total = float(max_duration.value)
        if max_duration.unit == Unit.EPOCH:
            if batches_per_epoch is None:
                raise ValueError(f'max_duration={max_duration} is in epochs but the dataloader length is unknown.')
            total *= float(batches_per_epoch)
        return cls(axis=axis, total=total, ssr=float(ssr), batches_per_epoch=batches_per_epoch)

    def absolute(self, name: str, t: Any, scale: bool = True) -> float:
        """An absolute (non-``dur``) duration on this axis, times ``ssr`` when ``scale``."""
        t = as_span(t)
        if t.value == 0:  # zero is zero on any axis (the default warm-up is '0ba')
            return 0.0
        if t.unit == Unit.EPOCH:
            if self.axis != Unit.BATCH:
                raise ValueError(f'{name}={t} is in epochs but the schedule is placed in {self.axis.value}.')
            if self.batches_per_epoch is None:
                raise ValueError(f'{name}={t} is in epochs but the dataloader length is unknown.')
            value = float(t.value) * float(self.batches_per_epoch)
        elif _AXIS_OF_UNIT[t.unit] != self.axis:
            raise ValueError(f'{name}={t} is in {t.unit.value} but the schedule is placed in {self.axis.value}.')
        else:
            value = float(t.value)
        return value * self.ssr if scale else value

    def warmup(self, t: Any, scale_warmup: bool) -> float:
        """The warm-up length: a ``dur`` warm-up is a fraction of this (scaled) run, as in Composer; an absolute
        one is unscaled unless ``scale_warmup``."""
        t = as_span(t)
        if t.unit == Unit.DURATION:
            return float(t.value) * self.total
        return self.absolute('t_warmup', t, scale=scale_warmup)

    def resolve(self, name: str, t: Any, span: Optional[float] = None) -> float:
        """A duration on the run's clock: ``dur`` is a fraction of ``span`` (default: the whole scaled run);
        absolute durations scale with ``ssr``."""
        t = as_span(t)
        if t.unit == Unit.DURATION:
            return float(t.value) * (self.total if span is None else span)
        return self.absolute(name, t)

    def resolve_all(self, name: str, ts: Sequence[Any], span: Optional[float] = None) -> list[float]:
        return [self.resolve(f'{name}[{i}]', t, span) for i, t in enumerate(ts)]


def check_ratio(name: str, value: Any) -> float:
    """A scale-schedule ratio (or any other ratio) as a float: a finite real number ``> 0``.

    The one validation of a ratio in the package: ``Trainer(scale_schedule_ratio=...)``, ``ScaleSchedule(ratio)``,
    a preview's ``ssr``, a sweep's ratios.

    Args:
        name: the argument's name as the user wrote it, for the message (``'ssr'``, ``'ratio'``, ``'--ratios[2]'``).
        value: the value to check (``bool`` is refused, as is a string).

    Returns:
        ``float(value)``.

    Raises:
        ValueError: ``value`` is not a finite real number ``> 0``; the message names ``name`` and ``value``.

    Example:
        >>> check_ratio('ssr', 0.5)
        0.5
        >>> check_ratio('ratio', 0)
        Traceback (most recent call last):
        ...
        composer_sched.schedules._base.ParamError: ratio=0 is not allowed: ratio must be a finite number > 0.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)) \
        and float(value) > 0
    if not ok:
        raise ParamError(name, value, 'a finite number > 0')
    return float(value)


def scaled_span(max_duration: Any, ssr: float = 1.0) -> Span:
    """``max_duration`` scaled as ``Trainer(scale_schedule_ratio=ssr)`` scales it: same unit, int-truncated
    (:math:`\\lfloor d \\cdot ssr \\rfloor` for integer units), as a :class:`Span` (no Composer needed).

    Args:
        max_duration: a Composer time string, a ``Time``, a ``Span``, or an int (epochs, as the Trainer reads it).
        ssr: the ratio, finite and ``> 0``.

    Raises:
        ValueError: ``ssr`` is not finite and positive, or the scaled duration is 0 or too long to count.

    Example:
        >>> str(scaled_span('10ep', 0.55)), str(scaled_span(3)), str(scaled_span('0.5dur', 0.5))
        ('5ep', '3ep', '0.25dur')
    """
    ssr = check_ratio('ssr', ssr)
    md = as_span(max_duration, Unit.EPOCH)
    try:
        scaled = Span(type(md.value)(md.value * ssr), md.unit) if ssr != 1.0 else md
    except OverflowError:  # a finite ratio whose product is not (1e307 x 12ba): int(inf)
        raise ValueError(f'ssr={ssr!r} makes max_duration={md} longer than can be counted; use a smaller ratio or '
                         'a shorter max_duration.') from None
    if scaled.value == 0:
        raise ValueError(f'ssr={ssr!r} reduces max_duration={md} to 0 {md.unit.value}; use a larger ratio or a '
                         'longer max_duration.')
    return scaled


def scaled_max_duration(max_duration: Union[str, int, Time], ssr: float = 1.0) -> Time:
    """:func:`scaled_span` as Composer's ``Time``, for the Trainer and its ``State``.

    Example:
        >>> scaled_max_duration('10ep', 0.55)
        Time(5, TimeUnit.EPOCH)
    """
    from composer.core import Time, TimeUnit

    scaled = scaled_span(max_duration, ssr)
    return Time(scaled.value, TimeUnit(scaled.unit.value))


def num_batches(max_duration: Any, dataloader_len: Optional[int] = None, samples_per_batch: Optional[int] = None,
                tokens_per_batch: Optional[int] = None) -> int:
    """How many batches a run of ``max_duration`` trains (full batches assumed; the batch that crosses a sample or
    token limit still runs, as in the Trainer).

    Args:
        max_duration: the (already scaled) duration, in ``ba``, ``ep``, ``sp`` or ``tok`` (a ``Span``, ``Time`` or
            time string).
        dataloader_len: batches per epoch, needed for ``ep``.
        samples_per_batch, tokens_per_batch: needed for ``sp`` and ``tok``.

    Raises:
        ValueError: the size the unit needs was not given.

    Example:
        >>> num_batches('3ep', dataloader_len=10), num_batches('100sp', samples_per_batch=32)
        (30, 4)
    """
    span = as_span(max_duration)
    unit, v = span.unit, span.value
    need = {Unit.EPOCH: ('dataloader_len', dataloader_len), Unit.SAMPLE: ('samples_per_batch', samples_per_batch),
            Unit.TOKEN: ('tokens_per_batch', tokens_per_batch)}
    if unit in need and need[unit][1] is None:
        raise ValueError(f'max_duration={span} needs {need[unit][0]} to count batches.')
    if unit == Unit.BATCH:
        return int(v)
    if unit == Unit.EPOCH:
        return int(v) * int(dataloader_len)  # type: ignore[arg-type]
    return -(-int(v) // int(need[unit][1]))  # type: ignore[arg-type]


class ReplayState:
    """The few ``State`` fields a Composer scheduler reads (``max_duration``, ``dataloader_len``, ``timestamp``,
    ``get_elapsed_duration()``), for evaluating schedulers outside a Trainer.

    Args:
        max_duration: the (already scaled) ``max_duration``.
        dataloader_len: batches per epoch, or None.

    Example:
        >>> from composer.core import Time
        >>> st = ReplayState(Time.from_timestring('4ba'), dataloader_len=2)
        >>> [st.advance() for _ in range(3)]
        [False, True, False]
        >>> int(st.timestamp.batch), int(st.timestamp.epoch), st.get_elapsed_duration().value
        (3, 1, 0.75)
    """

    def __init__(self, max_duration: Time, dataloader_len: Optional[int] = None):
        from composer.core import Time, Timestamp, TimeUnit

        self.max_duration = max_duration
        self.dataloader_len = None if dataloader_len is None else Time(int(dataloader_len), TimeUnit.BATCH)
        self.timestamp = Timestamp()

    def get_elapsed_duration(self) -> Time[float]:
        from composer.core import Time, TimeUnit

        return Time(self.timestamp.get(self.max_duration.unit).value / self.max_duration.value, TimeUnit.DURATION)

    def advance(self, samples: int = 0, tokens: int = 0) -> bool:
        """Advance one batch of ``samples`` and ``tokens`` as the Trainer does (the epoch ends after
        ``dataloader_len`` batches); returns whether an epoch ended."""
        self.timestamp = self.timestamp.to_next_batch(samples=samples, tokens=tokens)
        if self.dataloader_len is not None and self.timestamp.batch_in_epoch.value >= self.dataloader_len.value:
            self.timestamp = self.timestamp.to_next_epoch()
            return True
        return False
