"""composer-sched: learning-rate schedule methods for MosaicML Composer and PyTorch.

Names are imported lazily, so ``import composer_sched.schedules`` (the pure numpy core) never pulls in torch or
Composer. Each public name maps to the module that defines it.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.1.0'

import composer_sched.schedules as _core  # noqa: E402  (pure numpy; the registry below imports it anyway)

_CORE = 'composer_sched.schedules'
_EXPORTS: dict[str, str] = {
    # Pure core (numpy only): every schedule class the core exports, so a new method module needs no edit here.
    **{name: _CORE for name in _core.__all__
       if isinstance(getattr(_core, name), type) and issubclass(getattr(_core, name), _core.Schedule)},
    **dict.fromkeys(('method_names', 'get_method'), _CORE),
    # Adapters.
    'ComposerScheduler': 'composer_sched.adapters.composer',
    'ProductScheduler': 'composer_sched.adapters.product',
    'composer_scheduler': 'composer_sched.adapters.schedulers',
    'ScheduleLR': 'composer_sched.adapters.torch',
    'preview': 'composer_sched.previewing',
    'plot_schedule': 'composer_sched.previewing',
    # Ratio sweeps.
    'run_sweep': 'composer_sched.sweep',
    'SweepTarget': 'composer_sched.sweep',
    # Schedule-aware loss prediction (issue 16); its Run class stays in composer_sched.predict.
    **dict.fromkeys(('fit_momentum_law', 'fit_multi_power_law', 'predict_final_loss'), 'composer_sched.predict'),
    # YAML recipes.
    **dict.fromkeys(('load_recipe', 'Recipe', 'RecipeError'), 'composer_sched.recipes'),
    'AutoWU': 'composer_sched.algorithms.autowu', 'AutoWUScheduler': 'composer_sched.algorithms.autowu',
    **dict.fromkeys(('ScaleSchedule', 'scale_scheduler'), 'composer_sched.algorithms.scale_schedule'),
}
# Convex-bound toolkit; its paper-named classes (faces over the registered methods) stay in composer_sched.theory.
_EXPORTS.update(dict.fromkeys(('compute_rate', 'compute_optimal_base'), 'composer_sched.theory'))
# Algorithms with behaviour of their own (one folder each); the registered methods' setters are generated below.
_EXPORTS.update({'Warmup': 'composer_sched.algorithms.warmup', 'Cooldown': 'composer_sched.algorithms.cooldown'})
# Per registered method, the classes `make gen` writes (tools/gen.py): its Composer scheduler (WSDScheduler) and
# its Algorithm (WSD). Their names come from the registry (pure, cheap to import), so a new method needs no edit here.
from composer_sched.adapters import names as _names  # noqa: E402
from composer_sched.schedules.registry import method_names as _method_names  # noqa: E402

for _m in _method_names():
    _EXPORTS[_names.scheduler_class(_m)] = _names.SCHEDULERS_MODULE
    _EXPORTS[_names.algorithm_class(_m)[1]] = _names.SETTERS_MODULE  # re-exported there when hand-written
del _m
_EXPORTS['ScheduleAlgorithm'] = 'composer_sched.algorithms.roles'
# LR range test (issue 17); the sub-package is callable, so composer_sched.lr_find(...) works either way.
_EXPORTS.update(dict.fromkeys(('lr_find', 'LRFindResult'), 'composer_sched.lr_find'))

__all__ = sorted(_EXPORTS)


#: Old names, kept for one release: old name -> ('module:attribute', the new spelling the warning names).
#: tests/test_deprecated.py lists every one and checks that it warns and still works.
DEPRECATED: dict[str, tuple[str, str]] = {
    'FlatSchedule': ('composer_sched.schedules.constant:ConstantSchedule', 'composer_sched.ConstantSchedule'),
    'StepwiseSchedule': ('composer_sched.schedules.piecewise_constant:PiecewiseConstantSchedule',
                         'composer_sched.PiecewiseConstantSchedule'),
    'LinearWarmup': ('composer_sched.algorithms.linear_warmup:LinearWarmup',
                     "composer_sched.Warmup(shape='linear' or 'exp', ...)"),
    'LinearCooldown': ('composer_sched.algorithms.cooldown:Cooldown', 'composer_sched.Cooldown'),
    'torch_scheduler': ('composer_sched.adapters.torch_schedulers:torch_scheduler',
                        'composer_sched.ScheduleLR(optimizer, method, total_steps, ...)'),
    **_names.deprecated_method_names(),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in DEPRECATED:
            from composer_sched.schedules._deprecated import resolve, warn_deprecated
            target, new = DEPRECATED[name]
            warn_deprecated(f'composer_sched.{name}', new)
            return resolve(target)
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once: later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
