"""Composer algorithms: every registered schedule method as a setter, and the algorithms with behaviour of their own.

* One schedule-setting Algorithm per registered method (``WSD``, ``SGDR``, ``CosineAnnealing``, ...), generated
  from the registry into :mod:`composer_sched.algorithms.setters` (``make gen``); a method whose Algorithm has
  behaviour of its own (one_cycle's momentum cycling) declares it in :data:`OWN_SETTERS` and keeps it in its folder.
* The algorithms with behaviour of their own, one folder each in Composer's layout (``<name>/__init__.py``, the
  code, and ``<name>/README.md``, the method card): :data:`BEHAVIOUR_ALGORITHMS`.

Recipes, the CLI, the entry points and the parametrized tests read :func:`algorithm_names` and
:func:`get_algorithm`; every name here is also importable as ``composer_sched.algorithms.<Name>``.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ['BEHAVIOUR_ALGORITHMS', 'OWN_SETTERS', 'DEPRECATED_ALGORITHMS', 'algorithm_names', 'get_algorithm',
           'algorithm_classes']

#: Algorithms with behaviour of their own (not a registered method's setter): registry name -> ``'module:Class'``.
BEHAVIOUR_ALGORITHMS: dict[str, str] = {
    'autowu': 'composer_sched.algorithms.autowu:AutoWU',
    'cooldown': 'composer_sched.algorithms.cooldown:Cooldown',
    'scale_schedule': 'composer_sched.algorithms.scale_schedule:ScaleSchedule',
    'warmup': 'composer_sched.algorithms.warmup:Warmup',
}

#: Registered methods whose Algorithm is hand-written (behaviour of its own) instead of a generated setter:
#: method name -> ``'module:Class'``. ``make gen`` imports it into the setters module under the method's name.
OWN_SETTERS: dict[str, str] = {
    'one_cycle': 'composer_sched.algorithms.one_cycle:OneCycle',
}

#: Old registry names (recipe keys, entry points), kept for one release: old name -> (``'module:Class'``, new name).
DEPRECATED_ALGORITHMS: dict[str, tuple[str, str]] = {
    'linear_cooldown': ('composer_sched.algorithms.linear_cooldown:LinearCooldown', 'cooldown'),
    'linear_warmup': ('composer_sched.algorithms.linear_warmup:LinearWarmup', 'warmup'),
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
    """The Algorithm class registered as ``name``; an unknown name is a ``ValueError`` with the closest ones, an old
    name (:data:`DEPRECATED_ALGORITHMS`) a ``DeprecationWarning`` naming the new one."""
    from composer_sched.schedules._deprecated import resolve, warn_deprecated
    from composer_sched.schedules.registry import suggest

    if name in DEPRECATED_ALGORITHMS:
        ref, new = DEPRECATED_ALGORITHMS[name]
        warn_deprecated(f'algorithm {name!r}', f'{new!r} ({ref.rsplit(":", 1)[0].rsplit(".", 1)[0]}.{new})')
        return resolve(ref)
    found = algorithm_classes()
    if name not in found:
        raise ValueError(f'algorithm {name!r} is not registered{suggest(name, found)}; registered algorithms: '
                         f'{", ".join(sorted(found))}.')
    return found[name]


def _old_names() -> dict[str, tuple[str, str]]:
    # What was importable from here before: the functional forms (wsd_scheduler), CyclicLr, the Linear* modifiers.
    from composer_sched.adapters import names

    old = {k: v for k, v in names.deprecated_method_names().items()
           if k.endswith('_scheduler') or v[0].startswith(names.SETTERS_MODULE)}
    old['LinearWarmup'] = (DEPRECATED_ALGORITHMS['linear_warmup'][0], "composer_sched.Warmup(shape='linear' or 'exp')")
    old['LinearCooldown'] = (DEPRECATED_ALGORITHMS['linear_cooldown'][0], 'composer_sched.Cooldown')
    return old


def __getattr__(name: str) -> Any:
    # composer_sched.algorithms.WSD / .AutoWU, imported on first use; an old name warns (composer_sched's table).
    if name in _FOLDER_NAMES:
        return getattr(importlib.import_module(_FOLDER_NAMES[name]), name)
    if name[:1].isupper():  # never a submodule's name
        setters = importlib.import_module(_SETTERS)
        if name in setters.__all__:
            return getattr(setters, name)
    old = _old_names().get(name)
    if old is not None:
        from composer_sched.schedules._deprecated import resolve, warn_deprecated
        warn_deprecated(f'{__name__}.{name}', old[1])
        return resolve(old[0])
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
