"""composer-sched: learning-rate schedule methods for MosaicML Composer and PyTorch.

Names are imported lazily, so ``import composer_sched.schedules`` (the pure numpy core) never pulls in torch or
Composer. Each public name maps to the module that defines it.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.1.0'

_CORE = 'composer_sched.schedules'
_EXPORTS: dict[str, str] = {
    # Pure core (numpy only).
    **{name: _CORE for name in (
        'Schedule', 'TriangularSchedule', 'CosineAnnealingSchedule', 'MultiFactorSchedule', 'LinearWarmUp',
        'ExponentialWarmUp', 'LinearCoolDown', 'OneCycleSchedule', 'CyclicalSchedule', 'FlatSchedule',
        'StepSchedule', 'MultiStepSchedule', 'ExponentialSchedule', 'LinearSchedule', 'PolynomialSchedule',
        'InverseSqrtSchedule', 'StableDecaySchedule', 'StepwiseSchedule', 'method_names', 'get_method')},
    # Adapters.
    'ComposerScheduler': 'composer_sched.adapters.composer',
    'composer_scheduler': 'composer_sched.adapters.composer',
    'ScheduleLR': 'composer_sched.adapters.torch',
    'torch_scheduler': 'composer_sched.adapters.torch',
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
# Convex-bound toolkit; its schedule classes stay in composer_sched.theory (their names clash with the core's).
_EXPORTS.update(dict.fromkeys(('compute_rate', 'compute_optimal_base'), 'composer_sched.theory'))
# One Composer scheduler class per registered method (WSDScheduler, CosineAnnealingScheduler, ...), named from the
# registry (pure, cheap to import), so a new method needs no edit here.
from composer_sched.schedules.registry import class_name as _class_name, method_names as _method_names  # noqa: E402

_EXPORTS.update({_class_name(m, 'Scheduler'): 'composer_sched.adapters.composer' for m in _method_names()})
# Schedule algorithms (issue 4): one sub-package per method under composer_sched.algorithms.
_EXPORTS.update({cls: f'composer_sched.algorithms.{pkg}' for pkg, cls in (
    ('triangular', 'Triangular'), ('cosine_annealing', 'CosineAnnealing'), ('one_cycle', 'OneCycle'),
    ('cyclical', 'Cyclical'), ('sgdr', 'SGDR'), ('wsd', 'WSD'), ('inverse_sqrt', 'InverseSqrt'),
    ('multi_factor', 'MultiFactor'), ('linear_warmup', 'LinearWarmup'), ('linear_cooldown', 'LinearCooldown'))})
_EXPORTS['ScheduleAlgorithm'] = 'composer_sched.algorithms.base'
# LR range test (issue 17); the sub-package is callable, so composer_sched.lr_find(...) works either way.
_EXPORTS.update(dict.fromkeys(('lr_find', 'LRFindResult'), 'composer_sched.lr_find'))

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
