r"""The convex-bound toolkit (Schaipp, Hägele, Taylor, Şimşekli & Bach, ICML 2025, arXiv 2501.18965).

Theorem 1 bounds the last iterate of SGD on a convex, :math:`G`-Lipschitz problem with :math:`\|x_1 - x_\star\|
\le D` for *any* learning-rate schedule :math:`\eta_1..\eta_T`; it tracks real training curves of large models
surprisingly well, so it is a cheap way to compare schedules, pick a base LR and extend a run to a longer horizon.

* :func:`compute_rate`, :func:`bound_curve`: the bound of an LR array at one horizon, or at every horizon at once.
* :func:`compute_optimal_base`, :func:`optimal_bound_curve`: the base LR minimising the bound, and the bound there.
* The paper's schedule classes (:class:`WSDSchedule`, :class:`CosineSchedule`, ...), built on the core shapes.
* :func:`method_lrs`, :func:`method_bound`: the bound of any registered method or Composer recipe, as run.
* :func:`horizon_transfer`: re-shape a schedule tuned at ``T0`` for a longer ``T1`` keeping its base LR.

The schedule classes reuse the names of the paper package (``WSDSchedule``, ``ConstantSchedule``, ...) and so
differ from the core shapes of the same name in :mod:`composer_sched.schedules`: import them from here.
"""
from composer_sched.theory.bounds import (BOUND_TYPES, bound_curve, compute_optimal_base, compute_rate,
                                          optimal_bound_curve)
from composer_sched.theory.schedules import (ConstantSchedule, CosineSchedule, PiecewiseConstantSchedule,
                                             PolynomialBackwardSchedule, PolynomialCooldownSchedule, ScheduleBase,
                                             SqrtSchedule, WSDSchedule)
from composer_sched.theory.transfer import TRANSFER_FAMILIES, TransferResult, horizon_transfer

# Composer-facing helpers import Composer when called: keep `import composer_sched.theory` numpy-only.
_LAZY = {'method_lrs': 'runs', 'method_bound': 'runs', 'recipe_lrs': 'runs'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

__all__ = ['BOUND_TYPES', 'compute_rate', 'compute_optimal_base', 'bound_curve', 'optimal_bound_curve',
           'ScheduleBase', 'ConstantSchedule', 'CosineSchedule', 'WSDSchedule', 'SqrtSchedule',
           'PolynomialCooldownSchedule', 'PolynomialBackwardSchedule', 'PiecewiseConstantSchedule',
           'horizon_transfer', 'TransferResult', 'TRANSFER_FAMILIES', 'method_lrs', 'method_bound', 'recipe_lrs']
