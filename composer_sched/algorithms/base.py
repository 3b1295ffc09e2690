"""Transitional re-exports (issue 14): this module was split by responsibility and goes at integration.

=====================================  =======================================================================
old name (``algorithms.base``)         new home
=====================================  =======================================================================
``ROLES``, ``ModifierFn``,             :mod:`composer_sched.algorithms.roles`
``ScheduleAlgorithm``,
``SetterAlgorithm``
``SchedulePlan``, ``compose``          :mod:`composer_sched.algorithms.plan`
``ScheduleDriver``, ``install``,       :mod:`composer_sched.algorithms.driver`
``find_driver``
``simulate``                           :mod:`composer_sched.previewing` (the one replay engine)
``functional_form``                    gone: ``make gen`` writes one explicit ``<method>_scheduler`` per method
=====================================  =======================================================================

:func:`functional_form` stays here only for the hand-written setter folders that still call it; it also gives
their class the explicit signature and parameter docs that ``SetterAlgorithm.__init_subclass__`` used to make
(the generated setters carry their own).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.algorithms.driver import ScheduleDriver, find_driver, install
from composer_sched.algorithms.plan import SchedulePlan, compose
from composer_sched.algorithms.roles import ROLES, ModifierFn, ScheduleAlgorithm, SetterAlgorithm

__all__ = ['ROLES', 'ScheduleAlgorithm', 'SetterAlgorithm', 'functional_form', 'ModifierFn', 'SchedulePlan',
           'ScheduleDriver', 'compose', 'install', 'find_driver']


def _document(cls: type) -> None:
    # What SetterAlgorithm.__init_subclass__ did before the split, for the hand-written setters only.
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.schedules.registry import get_method

    if '__signature__' in vars(cls):
        return
    m = get_method(cls.method)  # type: ignore[attr-defined]
    params = [inspect.Parameter('replace', inspect.Parameter.KEYWORD_ONLY, default=False)]
    lines = []
    for p in m.params + WARMUP_PARAMS:
        default = inspect.Parameter.empty if p.required else p.default
        params.append(inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=default))
        rng = f' One of {", ".join(map(repr, p.choices))}.' if p.choices else ''
        if p.lo is not None or p.hi is not None:
            rng = f' In [{"-inf" if p.lo is None else f"{p.lo:g}"}, {"inf" if p.hi is None else f"{p.hi:g}"}].'
        kind = ' (Composer time string)' if p.kind == 'duration' else \
            ' (list of Composer time strings)' if p.kind == 'durations' else ''
        lines.append(f'        {p.name}: {p.doc}{kind}.{rng} Default ``{p.default!r}``.')
    lines.append('        replace: replace ``Trainer(schedulers=...)`` and any other setter. Default ``False``.')
    cls.__signature__ = inspect.Signature(params[1:] + params[:1])  # type: ignore[attr-defined]
    cls.__doc__ = (cls.__doc__ or '').rstrip() + f'\n\n    Registered method ``{m.name!r}``: {m.summary}' \
        '\n\n    Args:\n' + '\n'.join(lines) + '\n\n    Raises:\n        ValueError: unknown parameter or ' \
        'bad value (at construction); durations that do not fit\n            ``max_duration``, or a ' \
        'conflicting setter or scheduler (at ``Event.BEFORE_LOAD``).\n'


def functional_form(setter: type) -> Callable[..., ComposerScheduler]:
    """A setter's functional form, ``<method>_scheduler(**params)``: the same schedule as a stateless Composer
    scheduler for ``Trainer(schedulers=...)``. Transitional (see the module docstring).

    Args:
        setter: a :class:`SetterAlgorithm` subclass with :attr:`SetterAlgorithm.method` set.

    Example:
        >>> from composer_sched.algorithms.wsd import WSD
        >>> functional_form(WSD)(t_cooldown='0.3dur')
        WSDScheduler(t_cooldown='0.3dur')
    """
    from composer_sched.adapters.composer import composer_scheduler

    _document(setter)
    method = setter.method  # type: ignore[attr-defined]

    def scheduler(**params: Any) -> ComposerScheduler:
        return composer_scheduler(method, **params)

    scheduler.__name__ = scheduler.__qualname__ = f'{method}_scheduler'
    scheduler.__module__ = setter.__module__
    scheduler.__doc__ = (
        f'The functional form of :class:`{setter.__name__}`: the same schedule as a stateless Composer scheduler, '
        f'for ``Trainer(schedulers=...)``.\n\n    Args:\n        **params: as for :class:`{setter.__name__}` '
        '(without ``replace`` and any algorithm-only arguments).\n\n    Raises:\n        ValueError: unknown '
        f'parameter or bad value.\n\n    Example:\n        >>> from {setter.__module__} import {method}_scheduler'
        f'\n        >>> sched = {method}_scheduler()\n')
    return scheduler
