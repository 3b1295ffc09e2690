"""The one registry of schedule methods.

Every shape module registers a :class:`Method` here: its snake_case name, a one-line summary, its parameters
(with defaults, the kind of each, and the values allowed) and a ``build`` function that turns resolved durations
into a core :class:`~composer_sched.schedules.Schedule` of LR *multipliers*. The Composer and PyTorch adapters,
YAML recipes, the CLI, the docs tables and the parametrized tests all read this registry, so adding a method means
adding one module (and its test).

Durations here are abstract: the adapters resolve Composer time strings (``'100ba'``, ``'2ep'``, ``'0.2dur'``) to
numbers in one time axis before calling ``build``. ``build`` receives them measured on the *main clock*, which
starts when the (generic, adapter-level) warm-up ends; ``t_max='1dur'`` therefore ends exactly at ``max_duration``.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from composer_sched.schedules._base import ParamError

__all__ = ['REQUIRED', 'Param', 'Method', 'register', 'get_method', 'method_names', 'methods', 'suggest', 'class_name',
           'check_horizon']


class _Required:
    def __repr__(self) -> str:
        return 'REQUIRED'


REQUIRED: Any = _Required()


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a registered method.

    Args:
        name: keyword name, as the adapters and recipes spell it.
        default: default value, or :data:`REQUIRED`.
        kind: ``'value'`` (a number or string), ``'duration'`` (a Composer time string) or ``'durations'``
            (a list of them).
        doc: one line for docs tables and ``composer-sched list``.
        lo, hi: inclusive numeric bounds for ``'value'`` parameters (``None``: unbounded).
        choices: the allowed strings, for a ``'value'`` parameter that is a mode.
        optional: ``None`` is also allowed.
    """
    name: str
    default: Any = REQUIRED
    kind: str = 'value'
    doc: str = ''
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: Optional[tuple[str, ...]] = None
    optional: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered schedule method.

    Args:
        name: snake_case registry name (``'wsd'``).
        summary: one-line description.
        params: the method's own parameters (the adapters add the generic warm-up ones).
        build: ``build(**resolved_params) -> Schedule`` of multipliers, durations already numbers.
        budget_free_prefix: ``True`` when the schedule's early part does not depend on the training budget
            (constant until a cool-down that is placed from the end): sweeps can share that trunk across ratios.
        reference: where the method comes from.
        aliases: the core schedule's field names that ``build`` fills from a parameter of another name
            (``{'max_lr': 'alpha_max'}``): an error the core raises, at build or in :func:`check_horizon`, names
            the user's parameter.

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

    def __post_init__(self):
        raw = self.build
        if getattr(raw, '_user_named', False):
            return

        @functools.wraps(raw)
        def build(**kwargs):
            try:
                return raw(**kwargs)
            except ParamError as e:
                raise e.renamed(self.aliases) from None

        build._user_named = True  # type: ignore[attr-defined]
        object.__setattr__(self, 'build', build)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if not p.required}


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry; a second method with the same name is a ``ValueError``."""
    if method.name in _REGISTRY and _REGISTRY[method.name] is not method:
        raise ValueError(f'method name {method.name!r} is already registered.')
    names = [p.name for p in method.params]
    if len(set(names)) != len(names):
        raise ValueError(f'method {method.name!r} declares a parameter twice: {names}.')
    _REGISTRY[method.name] = method
    return method


def suggest(name: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ''


def get_method(name: str) -> Method:
    """The registered method ``name``; an unknown name is a ``ValueError`` listing the closest valid ones."""
    _load_all()
    if isinstance(name, Method):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f'schedule method {name!r} is not registered{suggest(name, _REGISTRY)}; '
                         f'registered methods: {", ".join(sorted(_REGISTRY))}.') from None


def method_names() -> list[str]:
    """All registered method names, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def methods() -> Iterator[Method]:
    """All registered methods, sorted by name."""
    for n in method_names():
        yield _REGISTRY[n]


_ACRONYMS = {'wsd': 'WSD', 'sgdr': 'SGDR'}


def class_name(method: str, suffix: str = '') -> str:
    """The class name of a method's adapter: ``class_name('cosine_annealing', 'Scheduler')`` is
    ``'CosineAnnealingScheduler'``, ``class_name('wsd', 'LR')`` is ``'WSDLR'``."""
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
        >>> check_horizon('exponential', ExponentialSchedule(gamma=1.1), 1000)
        Traceback (most recent call last):
        ...
        ValueError: exponential: gamma=1.1 is not allowed on this horizon: the multiplier grows 2.47e+41-fold by t=1000 (gamma**1000): gamma must be <= 1.02329 on this horizon (at most 1e+10-fold growth).
    """
    from composer_sched.schedules.warmup import LinearWarmUp
    m = get_method(method)
    # The adapters' warm-up wraps the method's schedule, evaluating it from t - offset on.
    while isinstance(schedule, LinearWarmUp):
        offset = schedule.length if getattr(schedule, 'shift', True) else 0.0
        schedule, t_end = schedule.schedule, max(t_end - offset, 0.0)
    try:
        schedule.check_horizon(t_end, m.aliases)
    except ValueError as e:
        raise ValueError(f'{context or m.name}: {e}') from None


def _load_all() -> None:
    # Importing the package imports every shape module, each of which registers itself.
    import composer_sched.schedules  # noqa: F401
