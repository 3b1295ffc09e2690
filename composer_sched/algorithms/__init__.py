"""Composer algorithms, one sub-package per method (Composer's layout): ``<method>/__init__.py`` exports the
Algorithm class and its functional form, ``<method>/<method>.py`` defines them and ``<method>/README.md`` is the
method card.

A sub-package is registered by defining, in its ``__init__.py``, ``ALGORITHM`` (the Algorithm class); its registry
name is the folder name. Recipes, the CLI and the parametrized tests read :func:`algorithm_names` and
:func:`get_algorithm`, so adding an algorithm is adding its folder.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any

__all__ = ['algorithm_names', 'get_algorithm', 'algorithm_classes']


def _discover() -> dict[str, Any]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg and not info.name.startswith('_'):
            mod = importlib.import_module(f'{__name__}.{info.name}')
            if getattr(mod, 'ALGORITHM', None) is not None:
                found[info.name] = mod.ALGORITHM
    return found


def algorithm_classes() -> dict[str, Any]:
    """Registry name -> Algorithm class, for every algorithm sub-package."""
    return dict(sorted(_discover().items()))


def algorithm_names() -> list[str]:
    """The registry names of all algorithms, sorted."""
    return sorted(_discover())


def get_algorithm(name: str) -> Any:
    """The Algorithm class registered as ``name``; an unknown name is a ``ValueError`` with the closest ones."""
    from composer_sched.schedules.registry import suggest

    found = _discover()
    if name not in found:
        raise ValueError(f'algorithm {name!r} is not registered{suggest(name, found)}; registered algorithms: '
                         f'{", ".join(sorted(found))}.')
    return found[name]
