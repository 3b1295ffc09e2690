"""The pure schedule core: immutable schedule objects, evaluated on scalars or numpy arrays.

Every module in this package is imported here so that each method's config registers itself in
:mod:`composer_sched.schedules.registry`; a module's ``__all__`` is re-exported. Adding a method is adding one module
(its shape and its ``<Name>Config``; see the registry's docstring) and one test.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from composer_sched.schedules._base import MAX_GROWTH, Schedule
from composer_sched.schedules.registry import (
    REQUIRED,
    Duration,
    Method,
    MethodConfig,
    Param,
    configclass,
    get_method,
    method_names,
    methods,
    param,
    register,
)

__all__ = ['Schedule', 'MAX_GROWTH', 'Method', 'Param', 'REQUIRED', 'get_method', 'method_names', 'methods', 'register',
           'MethodConfig', 'param', 'configclass', 'Duration']

for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith('_') or _info.name == 'registry':
        continue
    _mod = _importlib.import_module(f'{__name__}.{_info.name}')
    for _name in getattr(_mod, '__all__', ()):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
