"""Composer algorithms: every registered schedule method as a setter, and the algorithms with behaviour of their own.

* One schedule-setting Algorithm per registered method (``WSD``, ``SGDR``, ``CosineAnnealing``, ...) and its
  functional form (``wsd_scheduler``), generated from the registry into :mod:`composer_sched.algorithms.setters`
  (``make gen``); a method whose config names its own ``ALGORITHM`` (one_cycle's momentum cycling) keeps it in its
  folder.
* The algorithms with behaviour of their own, one folder each in Composer's layout (``<name>/__init__.py``, the
  code, and ``<name>/README.md``, the method card): :data:`BEHAVIOUR_ALGORITHMS`.

Recipes, the CLI, the entry points and the parametrized tests read :func:`algorithm_names` and
:func:`get_algorithm`; every name here is also importable as ``composer_sched.algorithms.<Name>``.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ['BEHAVIOUR_ALGORITHMS', 'algorithm_names', 'get_algorithm', 'algorithm_classes']

#: Algorithms with behaviour of their own (not a registered method's setter): registry name -> ``'module:Class'``.
BEHAVIOUR_ALGORITHMS: dict[str, str] = {
    'autowu': 'composer_sched.algorithms.autowu:AutoWU',
    'linear_cooldown': 'composer_sched.algorithms.linear_cooldown:LinearCooldown',
    'linear_warmup': 'composer_sched.algorithms.linear_warmup:LinearWarmup',
    'scale_schedule': 'composer_sched.algorithms.scale_schedule:ScaleSchedule',
}

_SETTERS = 'composer_sched.algorithms.setters'
# The public names of the folders, for ``composer_sched.algorithms.<Name>`` (the setters' come from their module).
_FOLDER_NAMES: dict[str, str] = {
    **{ref.partition(':')[2]: ref.partition(':')[0] for ref in BEHAVIOUR_ALGORITHMS.values()},
    'AutoWUScheduler': 'composer_sched.algorithms.autowu',
    'scale_scheduler': 'composer_sched.algorithms.scale_schedule',
}


def _load(ref: str) -> Any:
    module, _, name = ref.partition(':')
    return getattr(importlib.import_module(module), name)


def algorithm_classes() -> dict[str, Any]:
    """Registry name -> Algorithm class: every registered method's setter and every algorithm with behaviour.

    Example:
        >>> classes = algorithm_classes()
        >>> classes['wsd'].__name__, classes['one_cycle'].__name__, classes['autowu'].__name__
        ('WSD', 'OneCycle', 'AutoWU')
    """
    found = dict(importlib.import_module(_SETTERS).SETTER_CLASSES)
    found.update({name: _load(ref) for name, ref in BEHAVIOUR_ALGORITHMS.items()})
    return dict(sorted(found.items()))


def algorithm_names() -> list[str]:
    """The registry names of all algorithms, sorted."""
    return list(algorithm_classes())


def get_algorithm(name: str) -> Any:
    """The Algorithm class registered as ``name``; an unknown name is a ``ValueError`` with the closest ones."""
    from composer_sched.schedules.registry import suggest

    found = algorithm_classes()
    if name not in found:
        raise ValueError(f'algorithm {name!r} is not registered{suggest(name, found)}; registered algorithms: '
                         f'{", ".join(sorted(found))}.')
    return found[name]


def __getattr__(name: str) -> Any:
    # composer_sched.algorithms.WSD / .wsd_scheduler / .AutoWU, imported on first use.
    if name in _FOLDER_NAMES:
        return getattr(importlib.import_module(_FOLDER_NAMES[name]), name)
    if name[:1].isupper() or name.endswith('_scheduler'):  # never a submodule's name
        setters = importlib.import_module(_SETTERS)
        if name in setters.__all__:
            return getattr(setters, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
