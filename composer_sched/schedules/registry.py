r"""The one registry of schedule methods: each method is ONE frozen, typed config class.

A method module (``composer_sched/schedules/<method>.py``) declares its core shape (a :class:`Schedule`) and, next
to it, one config class registered with :func:`register`::

    @register
    class CosineAnnealingConfig(MethodConfig):
        '''Cosine annealing from alpha_i to alpha_f over t_max, then alpha_f.'''   # first line: the summary

        NAME = 'cosine_annealing'                    # the registry / recipe / CLI name
        REFERENCE = 'Loshchilov & Hutter (2016), SGDR'
        ALIASES = {'min_lr': 'alpha_f', 'max_lr': 'alpha_i', 'cycle_length': 't_max'}  # core field -> user param
        # BUDGET_FREE_PREFIX = True    when the early part does not depend on the budget (constant until a cool-down)
        # RUN_CLOCK = True             when its durations are milestones on the run's clock (step, multi_step)

        t_max: Duration = param('1dur', 'length of the cosine', kind='duration', end=True, example='1dur')
        alpha_f: float = param(0.0, 'final multiplier', lo=0, example=0.05)
        alpha_i: float = param(1.0, 'initial multiplier', lo=0, example=1.0)

        def build(self, t_max: float) -> Schedule:      # durations arrive resolved to numbers, by keyword
            return CosineAnnealingSchedule(min_lr=self.alpha_f, max_lr=self.alpha_i, cycle_length=t_max)

That is all: :func:`register` makes the class a frozen, keyword-only dataclass and adds it to the registry; the
Composer and PyTorch schedulers, the setter algorithms, entry points, example recipes, docs tables and the
parametrised tests are derived from it (``make gen``).

Fields (:func:`param`):

* ``kind='value'``: a number checked against ONE interval, ``lo``/``hi``, each end closed unless ``lo_open`` /
  ``hi_open`` (``lo=0, lo_open=True`` is ``> 0``); or a mode, ``choices=(...)``; or a flag (a ``bool`` default).
  ``kind='values'``: a number, or a list of numbers each in the interval. Declare the interval the *shape*
  admits: a value the bounds admit must build (``tests/schedules/test_contract.py`` fuzzes every bound).
* ``kind='duration'`` / ``'durations'``: a Composer time string (or a list of them). The core cannot parse
  Composer time, so the config holds it as given; the adapters parse it and call :meth:`MethodConfig.build` with the
  number it resolves to on the run's axis. ``end=True`` marks the duration that places the shape's end on the run's
  clock (``t_max``); every other duration is a length, measured from where the shape starts.
* ``optional=True``: ``None`` is allowed too. ``example``: a value for docs, example recipes and tests (required for
  a required field; defaults to the default). Pick examples that make the shape move within ~33 batches of an
  11-batch-per-epoch run.

Construction validates every field and then runs :meth:`MethodConfig.check`, where cross-field rules raise
:class:`~composer_sched.schedules._base.ParamError` in the user's names (``alpha_min``, never the core's
``min_lr``). Errors the core shape raises in ``build`` are renamed through ``ALIASES``.

Bounds are declared once, on the core shape's field, exactly as the shape admits them
(``min_lr: float = dataclasses.field(metadata=interval(lo=0))``; its ``__post_init__`` calls ``check_bounds(self)``):
``lo=0, lo_open=True`` (``> 0``) where the shape needs a positive value, ``lo=0`` where 0 has a defined meaning there
(``exponential.gamma=0`` is torch's ``ExponentialLR(gamma=0)``, ``sgdr.t_mult=0`` one cycle, ``polynomial.power=0``
constant). The config's parameter that becomes the field reads it, ``param(..., bound=bound_of(Shape, 'min_lr'))``
(``.narrowed(hi=...)`` where ``build`` fixes another argument the bound depends on); ``lo``/``hi`` are only for an
interval no shape checks. Then every value the declaration admits builds, and every other fails at construction
naming the user's parameter (a shape built directly names its own argument), never when the Trainer starts (the
registry-wide contract test fuzzes both sides of every bound; ``tests/schedules/test_bounds_declared_once.py`` fails
when a bound is written twice).

The introspection view every other layer reads is :func:`get_method` -> :class:`Method` (``.name .summary
.reference .params .budget_free_prefix .aliases .defaults .build(**kwargs) .param(name) .config .example``).

Durations are measured on the *main clock*, which starts when the (generic, adapter-level) warm-up ends;
``t_max='1dur'`` therefore ends exactly at ``max_duration``.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import sys
from typing import Any, Callable, ClassVar, Iterator, Mapping, Optional, Sequence, TypeVar, Union, cast

from composer_sched.schedules._base import Bound, ParamError, Schedule, check_number
from composer_sched.schedules.vocabulary import renamed_hint

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover - typing_extensions comes with torch
    from typing_extensions import dataclass_transform

__all__ = ['REQUIRED', 'KINDS', 'Duration', 'Param', 'Method', 'MethodConfig', 'param', 'configclass', 'params_of',
           'register', 'get_method', 'method_names', 'methods', 'suggest', 'unknown_parameter', 'class_name',
           'check_horizon']


class _Required:
    def __repr__(self) -> str:
        return 'REQUIRED'


REQUIRED: Any = _Required()

#: The kinds of parameter: a number/mode/flag, a number or list of numbers, a Composer time string, a list of them.
KINDS = ('value', 'values', 'duration', 'durations')

#: How a duration field is typed: a Composer time string (``'100ba'``, ``'0.2dur'``), an int of batches, a Composer
#: ``Time`` (the core does not import Composer), or the number an adapter resolved it to.
Duration = Any


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a registered method (read-only view of a config field).

    Args:
        name: keyword name, as the adapters and recipes spell it.
        default: default value, or :data:`REQUIRED`.
        kind: one of :data:`KINDS`.
        doc: one line for docs tables and ``composer-sched list``.
        lo, hi: numeric bounds for ``'value'``/``'values'`` parameters (``None``: unbounded).
        choices: the allowed strings, for a ``'value'`` parameter that is a mode.
        optional: ``None`` is also allowed.
        example: a value for docs, example recipes and tests.
        lo_open, hi_open: the bound itself is excluded (``lo=0, lo_open=True`` is ``> 0``).
        end: a ``'duration'`` that says where the shape ends on the run's clock (Composer's ``t_max``): after a
            warm-up :math:`W` the shape spans ``[W, end]``. Any other duration of a shape is a length.
        bound_source: the core shape's field whose declared interval ``lo``/``hi`` are (``'Shape.field'``), or
            ``''`` for an interval only the config has.
    """
    name: str
    default: Any = REQUIRED
    kind: str = 'value'
    doc: str = ''
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: Optional[tuple[str, ...]] = None
    optional: bool = False
    example: Any = REQUIRED
    lo_open: bool = False
    hi_open: bool = False
    end: bool = False
    bound_source: str = ''

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def allowed(self) -> str:
        """What the parameter admits, in words (``'in (0, 1]'``)."""
        if self.choices is not None:
            return f'one of {", ".join(map(repr, self.choices))}'
        if isinstance(self.default, bool):
            return 'true or false'
        if self.kind in ('duration', 'durations'):
            return 'a duration' if self.kind == 'duration' else 'a list of durations'
        lo = '-inf' if self.lo is None else f'{self.lo:g}'
        hi = 'inf' if self.hi is None else f'{self.hi:g}'
        return f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"

    def validate(self, value: Any) -> Any:
        """``value`` checked and normalised (numbers as ``float``, lists as tuples); durations are returned as given
        (the adapters parse them).

        Raises:
            ParamError: naming this parameter, the value and what is allowed.
        """
        if value is None and self.optional:
            return None
        if self.kind == 'duration':
            return value
        if self.kind == 'durations':
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise ParamError(self.name, value, "a list of durations such as ['30ep', '60ep']")
            return tuple(value)
        if self.choices is not None:
            if value not in self.choices:
                raise ParamError(self.name, value, self.allowed + suggest(value, self.choices))
            return value
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ParamError(self.name, value, 'true or false')
            return value
        if self.kind == 'values' and isinstance(value, (list, tuple)):
            return tuple(self._number(f'{self.name}[{i}]', v) for i, v in enumerate(value))
        return self._number(self.name, value)

    def _number(self, name: str, value: Any) -> float:
        return check_number(name, value, lo=self.lo, hi=self.hi, lo_open=self.lo_open, hi_open=self.hi_open)


def param(default: Any = REQUIRED, doc: str = '', *, kind: str = 'value', lo: Optional[float] = None,
          hi: Optional[float] = None, lo_open: bool = False, hi_open: bool = False,
          choices: Optional[Sequence[str]] = None, optional: bool = False, example: Any = REQUIRED,
          end: bool = False, bound: Optional[Bound] = None) -> Any:
    """Declare one field of a :class:`MethodConfig` (a ``dataclasses.field`` carrying its :class:`Param`).

    Args:
        default: the default; omit it for a required parameter.
        doc: one line for docs tables and ``composer-sched list``.
        kind: one of :data:`KINDS` (default ``'value'``).
        lo, hi: numeric bounds, closed unless ``lo_open``/``hi_open``: only for an interval the core shape does
            not check itself.
        bound: the interval of the core shape's field this parameter becomes,
            ``bound_of(Shape, 'field')`` (instead of ``lo``/``hi``): the bound is written once, on the shape.
        choices: the allowed strings of a mode.
        optional: ``None`` is allowed too.
        example: an example value (defaults to ``default``; required for a required parameter).
        end: this duration is where the shape ends on the run's clock, as Composer's ``t_max`` (see :class:`Param`).

    Example:
        >>> @configclass
        ... class Knob(MethodConfig):
        ...     '''A knob.'''
        ...     gain: float = param(1.0, 'the gain', lo=0, lo_open=True, example=2.0)
        >>> Knob(gain=3).gain
        3.0
        >>> Knob(gain=0)
        Traceback (most recent call last):
        ...
        composer_sched.schedules._base.ParamError: gain=0 is not allowed: gain must be in (0, inf].
    """
    if kind not in KINDS:
        raise ValueError(f'kind={kind!r} is not allowed: kind must be one of {", ".join(map(repr, KINDS))}.')
    source = ''
    if bound is not None:
        if (lo, hi, lo_open, hi_open) != (None, None, False, False):
            raise ValueError('lo/hi are not allowed with bound=: the bound is declared once, on the shape.')
        lo, hi, lo_open, hi_open, source = bound.lo, bound.hi, bound.lo_open, bound.hi_open, bound.source
    spec = Param('', default, kind, doc, lo, hi, tuple(choices) if choices is not None else None, optional,
                 default if example is REQUIRED else example, lo_open, hi_open, end, source)
    if end and kind != 'duration':
        raise ValueError(f"end=True is not allowed for kind={kind!r}: only a 'duration' can end a shape.")
    stored = tuple(default) if isinstance(default, list) else default  # a frozen dataclass default stays immutable
    if default is REQUIRED:
        return dataclasses.field(metadata={'param': spec})
    return dataclasses.field(default=stored, metadata={'param': spec})


class MethodConfig:
    """Base of every method's config: a frozen dataclass whose fields are :func:`param` declarations.

    Subclasses set the class-level ``NAME`` (snake_case registry name), ``REFERENCE``, ``BUDGET_FREE_PREFIX`` (the
    early part does not depend on the budget: sweeps share that trunk), ``ALIASES`` (core field -> user parameter,
    for errors the core shape raises), ``RUN_CLOCK`` (its durations are times on the run's clock, as milestones are:
    a warm-up overlays its start, as Composer's ``MultiStepWithWarmupScheduler``; otherwise the shape starts when the
    warm-up ends), and implement :meth:`build` (and :meth:`check` for cross-field rules).
    """
    NAME: ClassVar[str] = ''
    REFERENCE: ClassVar[str] = ''
    BUDGET_FREE_PREFIX: ClassVar[bool] = False
    ALIASES: ClassVar[Mapping[str, str]] = {}
    RUN_CLOCK: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for p in params_of(type(self)):
            object.__setattr__(self, p.name, p.validate(getattr(self, p.name)))
        self.check()

    def check(self) -> None:
        """Cross-field rules, raising :class:`~composer_sched.schedules._base.ParamError` in the user's names."""

    def build(self, *args: Any, **durations: Any) -> Schedule:
        """The core schedule of multipliers; the duration fields arrive resolved to numbers, by keyword."""
        raise NotImplementedError(f'{type(self).__name__} must implement build()')


C = TypeVar('C', bound='type[MethodConfig]')


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(param, dataclasses.field))
def configclass(cls: C) -> C:
    """Make ``cls`` a frozen, keyword-only dataclass of :func:`param` fields without registering it (the adapters'
    warm-up parameters are one: :class:`~composer_sched.schedules.warmup.WarmupConfig`)."""
    if not (isinstance(cls, type) and issubclass(cls, MethodConfig)):
        raise TypeError(f'{cls!r} is not a MethodConfig subclass.')
    _PARAMS.pop(cls, None)
    if '__dataclass_fields__' not in cls.__dict__:
        cls = cast(C, dataclasses.dataclass(frozen=True, kw_only=True)(cls))
    for f in dataclasses.fields(cast(Any, cls)):
        if 'param' not in f.metadata:
            raise TypeError(f'{cls.__name__}.{f.name} is not declared with param().')
        p = f.metadata['param']
        if p.required and p.example is REQUIRED:
            raise TypeError(f'{cls.__name__}.{f.name} is required and needs an example.')
    _name_keywords(cls)
    return cls


def _name_keywords(cls: type[MethodConfig]) -> None:
    """A keyword the config does not declare is :func:`unknown_parameter`'s ``ValueError`` (naming the closest
    field), as on every other face of the method, instead of the dataclass's bare ``TypeError``."""
    init = cls.__init__
    if getattr(init, '_names_keywords', False):
        return
    fields = tuple(f.name for f in dataclasses.fields(cast(Any, cls)))

    @functools.wraps(init)
    def __init__(self: MethodConfig, *args: Any, **kwargs: Any) -> None:
        for name in kwargs:
            if name not in fields:
                raise unknown_parameter(type(self).NAME or type(self).__name__, name, fields)
        init(self, *args, **kwargs)

    __init__._names_keywords = True  # type: ignore[attr-defined]
    setattr(cls, '__init__', __init__)


_PARAMS: dict[type, tuple[Param, ...]] = {}


def params_of(cls: type[MethodConfig]) -> tuple[Param, ...]:
    """The :class:`Param` of each field of a config class, in declaration order."""
    out = _PARAMS.get(cls)
    if out is None:
        out = _PARAMS[cls] = tuple(dataclasses.replace(f.metadata['param'], name=f.name)
                                   for f in dataclasses.fields(cast(Any, cls)))
    return out


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered schedule method: the read-only view of its config class that every layer introspects.

    Args:
        name: snake_case registry name (``'wsd'``).
        summary: one-line description (the config's docstring's first line).
        params: the method's own parameters (the adapters add the generic warm-up ones).
        build: ``build(**params) -> Schedule`` of multipliers, every parameter by keyword, durations already numbers.
        budget_free_prefix: ``True`` when the schedule's early part does not depend on the training budget
            (constant until a cool-down that is placed from the end): sweeps can share that trunk across ratios.
        reference: where the method comes from.
        aliases: the core schedule's field names that ``build`` fills from a parameter of another name
            (``{'max_lr': 'alpha_max'}``): an error the core raises, at build or in :func:`check_horizon`, names
            the user's parameter.
        config: the :class:`MethodConfig` class (``None`` for a method declared without one).
        run_clock: its durations are times on the run's clock (see :class:`MethodConfig`).

    Contract (tested over the whole registry): every value a :class:`Param` admits is one ``build`` admits too; a
    combination that does not fit a horizon is a ``ValueError`` naming the user's parameter, from ``build`` or
    :func:`check_horizon`, both called before training; and what passes is finite and ``>= 0`` on the horizon.
    """
    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[..., Any]
    budget_free_prefix: bool = False
    reference: str = ''
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    config: Optional[type[MethodConfig]] = None
    run_clock: bool = False

    def __post_init__(self) -> None:
        raw = self.build
        if getattr(raw, '_user_named', False):
            return
        object.__setattr__(self, 'build', _renaming(raw, self.aliases))

    def __reduce__(self) -> tuple[Any, ...]:
        # By name: its build is a closure over the config class, and the registry is the one place methods live
        # (so a scheduler or algorithm holding one pickles, and unpickles to the same registered method).
        return get_method, (self.name,)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: _plain(p.default) for p in self.params if not p.required}

    @property
    def example(self) -> dict[str, Any]:
        """An example value for every parameter (lists as lists): ``ScheduleSpec(name, **method.example)`` builds."""
        return {p.name: _plain(p.default if p.example is REQUIRED else p.example) for p in self.params}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _renaming(raw: Callable[..., Any], aliases: Mapping[str, str]) -> Callable[..., Any]:
    """``raw`` with a core :class:`ParamError` re-raised under the user's name."""
    @functools.wraps(raw)
    def build(*args: Any, **kwargs: Any) -> Any:
        try:
            return raw(*args, **kwargs)
        except ParamError as e:
            raise e.renamed(aliases) from None

    build._user_named = True  # type: ignore[attr-defined]
    return build


def _method_of(cls: type[MethodConfig]) -> Method:
    params = params_of(cls)
    durations = [p.name for p in params if p.kind in ('duration', 'durations')]

    def build(**kwargs: Any) -> Any:
        config = cls(**kwargs)
        return config.build(**{n: kwargs[n] for n in durations if n in kwargs} if durations else {})

    doc = (cls.__doc__ or '').strip()
    return Method(name=cls.NAME, summary=doc.splitlines()[0].strip() if doc else '', params=params, build=build,
                  budget_free_prefix=cls.BUDGET_FREE_PREFIX, reference=cls.REFERENCE, aliases=dict(cls.ALIASES),
                  config=cls, run_clock=cls.RUN_CLOCK)


# Filled as the method modules import. Importing this module runs the package's __init__ first, which imports every
# module of the package: the registry is complete whenever it can be read.
_REGISTRY: dict[str, Method] = {}


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(param, dataclasses.field))
def register(cls: C) -> C:
    """Class decorator: make a :class:`MethodConfig` subclass a frozen keyword-only dataclass (see
    :func:`configclass`) and add it to the registry under its ``NAME``.

    A second method with the same name, a missing ``NAME`` or summary, or a required field without an example is
    an error at import.
    """
    cls = configclass(cls)
    if not cls.NAME or not (cls.__doc__ or '').strip():
        raise TypeError(f'{cls.__name__} needs a NAME and a docstring (its first line is the summary).')
    setattr(cls, 'build', _renaming(cls.build, cls.ALIASES))
    _add(_method_of(cls))
    return cls


def _add(method: Method) -> Method:
    old = _REGISTRY.get(method.name)
    if old is not None and old is not method and (old.config is None or old.config is not method.config):
        raise ValueError(f'method name {method.name!r} is already registered.')
    names = [p.name for p in method.params]
    if len(set(names)) != len(names):
        raise ValueError(f'method {method.name!r} declares a parameter twice: {names}.')
    _REGISTRY[method.name] = method
    return method


def suggest(name: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string. A name the vocabulary retired
    (:data:`~composer_sched.schedules.vocabulary.RENAMED`) is pointed to its replacement instead, wherever the
    suggestion is made (a scheduler's or an algorithm's arguments, a recipe key).

    Example:
        >>> suggest('t_cooldwn', ['t_cooldown', 'alpha_f']), suggest('cycle_length_decay', ['t_0', 't_mult'])
        (" (did you mean 't_cooldown'?)", " (did you mean 't_mult'? 'cycle_length_decay' was renamed)")
    """
    renamed = renamed_hint(str(name), list(choices))
    if renamed:
        return renamed
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ''


def unknown_parameter(who: str, name: str, known: Sequence[str]) -> ValueError:
    """The one error for a keyword a method does not take, whichever face was called (its config, its Composer
    scheduler, its Algorithm, ``ScheduleLR``, a recipe): it names the closest parameter and lists them all.

    Example:
        >>> str(unknown_parameter('wsd', 't_cooldwn', ['t_cooldown', 'alpha_f']))
        "wsd: unknown parameter 't_cooldwn' (did you mean 't_cooldown'?); parameters: t_cooldown, alpha_f."
    """
    return ValueError(f'{who}: unknown parameter {name!r}{suggest(name, known)}; parameters: {", ".join(known)}.')


def get_method(name: Union[str, Method, type[MethodConfig]]) -> Method:
    """The registered method ``name`` (or of a config class); an unknown name is a ``ValueError`` listing the
    closest valid ones.

    Example:
        >>> m = get_method('cosine_annealing')
        >>> m.summary, m.param('alpha_f').lo, m.config.__name__
        ('Cosine annealing from alpha_i to alpha_f over t_max, then alpha_f.', 0, 'CosineAnnealingConfig')
    """
    if isinstance(name, Method):
        return name
    if isinstance(name, type) and issubclass(name, MethodConfig):
        name = name.NAME
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f'schedule method {name!r} is not registered{suggest(str(name), _REGISTRY)}; '
                         f'registered methods: {", ".join(sorted(_REGISTRY))}.') from None


def method_names() -> list[str]:
    """All registered method names, sorted."""
    return sorted(_REGISTRY)


def methods() -> Iterator[Method]:
    """All registered methods, sorted by name."""
    for n in method_names():
        yield _REGISTRY[n]


_ACRONYMS = {'wsd': 'WSD', 'sgdr': 'SGDR', 'cyclic_lr': 'CyclicLR', 'lr_noise': 'LRNoise'}


def class_name(method: str, suffix: str = '') -> str:
    """The class name of a method's adapter: ``class_name('cosine_annealing', 'Scheduler')`` is
    ``'CosineAnnealingScheduler'``, ``class_name('cyclic_lr', 'Scheduler')`` is ``'CyclicLRScheduler'`` (an acronym
    stays upper case, as torch spells ``CyclicLR``)."""
    return _ACRONYMS.get(method, ''.join(w.capitalize() for w in method.split('_'))) + suffix


def check_horizon(method: Any, schedule: Any, t_end: float, context: str = '') -> None:
    """Raise ``ValueError`` unless ``schedule`` (built by ``method``, maybe under a warm-up) is finite on
    ``[0, t_end]``: what the adapters call once a run's horizon is known, before training. ``context`` (e.g. the
    spec and its horizon) opens the message; by default the method's name.

    Compounding parameters (``gamma > 1``, shrinking or growing cycles) are the only ones that can fail here; the
    message names the method's own parameter, its value and the values allowed on this horizon.

    Example:
        >>> from composer_sched.schedules import ExponentialSchedule
        >>> check_horizon('exponential', ExponentialSchedule(gamma=1.02), 1000)  # 1.02**1000 = 4e8: fine
        >>> check_horizon('exponential', ExponentialSchedule(gamma=1.1), 1000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: exponential: gamma=1.1 is not allowed on this horizon: ...: gamma must be <= 1.02329 on this ...
    """
    m = get_method(method)
    try:
        schedule.check_horizon(t_end, m.aliases)
    except ValueError as e:
        raise ValueError(f'{context or m.name}: {e}') from None
