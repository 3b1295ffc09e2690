"""The pure schedule core: immutable schedule objects, evaluated on scalars or numpy arrays.

Every module in this package is imported here so that each method's config registers itself in
:mod:`composer_sched.schedules.registry`; a module's ``__all__`` is re-exported. Adding a method is adding one module
(its shape and its ``<Name>Config``; see the registry's docstring) and one test.
"""
import importlib as _importlib
import pkgutil as _pkgutil
from typing import TYPE_CHECKING

from composer_sched.schedules._base import MAX_GROWTH, Schedule
from composer_sched.schedules._deprecated import deprecated_getattr as _deprecated_getattr
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

# What the loop below re-exports, spelled out for type checkers (tests/schedules/test_registry.py keeps it whole).
if TYPE_CHECKING:
    # BEGIN make gen
    from composer_sched.schedules.constant import *  # noqa: F403
    from composer_sched.schedules.cooldown import *  # noqa: F403
    from composer_sched.schedules.cosine import *  # noqa: F403
    from composer_sched.schedules.cyclic_lr import *  # noqa: F403
    from composer_sched.schedules.cyclical import *  # noqa: F403
    from composer_sched.schedules.exponential import *  # noqa: F403
    from composer_sched.schedules.inverse_sqrt import *  # noqa: F403
    from composer_sched.schedules.linear import *  # noqa: F403
    from composer_sched.schedules.lr_noise import *  # noqa: F403
    from composer_sched.schedules.multi_factor import *  # noqa: F403
    from composer_sched.schedules.one_cycle import *  # noqa: F403
    from composer_sched.schedules.peers import *  # noqa: F403
    from composer_sched.schedules.piecewise_constant import *  # noqa: F403
    from composer_sched.schedules.polynomial import *  # noqa: F403
    from composer_sched.schedules.step import *  # noqa: F403
    from composer_sched.schedules.tanh import *  # noqa: F403
    from composer_sched.schedules.triangular import *  # noqa: F403
    from composer_sched.schedules.vocabulary import *  # noqa: F403
    from composer_sched.schedules.warmup import *  # noqa: F403
    from composer_sched.schedules.wsd import *  # noqa: F403
    # END make gen

#: Modules kept only for an old import path (their names are deprecated): not method modules.
DEPRECATED_MODULES = ('piecewise',)

for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):  # noqa: F405 (the package's own)
    if _info.name.startswith('_') or _info.name == 'registry' or _info.name in DEPRECATED_MODULES:
        continue
    _mod = _importlib.import_module(f'{__name__}.{_info.name}')
    for _name in getattr(_mod, '__all__', ()):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)

# Old names, for one release (tests/test_deprecated.py lists them all).
__getattr__ = _deprecated_getattr(__name__, {
    'FlatSchedule': ('composer_sched.schedules.constant:ConstantSchedule', 'composer_sched.ConstantSchedule'),
    'StepwiseSchedule': ('composer_sched.schedules.piecewise_constant:PiecewiseConstantSchedule',
                         'composer_sched.PiecewiseConstantSchedule'),
})
