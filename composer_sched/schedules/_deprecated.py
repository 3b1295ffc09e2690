"""Old public names kept for one release: each module that exported one answers it through a module
``__getattr__`` made here, which warns (``DeprecationWarning`` naming the new spelling) and returns the object.

The names themselves are listed where they were importable (``composer_sched/__init__.py``, this package's
``__init__``, the modules they lived in); ``tests/test_deprecated.py`` lists every one and checks it warns and
still works.
"""
from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Mapping

__all__ = ['warn_deprecated', 'deprecated_getattr', 'resolve']


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated, naming ``new``: what every deprecated name says, in one wording."""
    warnings.warn(f'{old} is deprecated and will be removed in the next release: use {new}.', DeprecationWarning,
                  stacklevel=stacklevel)


def resolve(target: str) -> Any:
    """The object at ``'package.module:attribute'`` (without a second warning when that is a deprecated name too)."""
    module, _, attr = target.partition(':')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return getattr(importlib.import_module(module), attr)


def deprecated_getattr(module: str, table: Mapping[str, tuple[str, str]],
                       fallback: Callable[[str], Any] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` answering its deprecated names.

    Args:
        module: the module's ``__name__``.
        table: old name -> (``'module:attribute'`` it resolves to, the new spelling the warning names).
        fallback: the module's own ``__getattr__`` for every other name (default: ``AttributeError``).

    Example:
        >>> import warnings
        >>> getter = deprecated_getattr('pkg', {'Old': ('math:pi', 'math.pi')})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     round(getter('Old'), 2), str(caught[0].message)
        (3.14, 'pkg.Old is deprecated and will be removed in the next release: use math.pi.')
    """
    def __getattr__(name: str) -> Any:
        entry = table.get(name)
        if entry is None:
            if fallback is not None:
                return fallback(name)
            raise AttributeError(f'module {module!r} has no attribute {name!r}')
        target, new = entry
        warn_deprecated(f'{module}.{name}', new)
        return resolve(target)

    return __getattr__
