r"""The convex-bound toolkit (Schaipp, Hägele, Taylor, Şimşekli & Bach, ICML 2025, arXiv 2501.18965).

Theorem 1 bounds the last iterate of SGD on a convex, :math:`G`-Lipschitz problem with :math:`\|x_1 - x_\star\|
\le D` for *any* learning-rate schedule :math:`\eta_1..\eta_T`; it tracks real training curves of large models
surprisingly well, so it is a cheap way to compare schedules, pick a base LR and extend a run to a longer horizon.

* :func:`compute_rate`, :func:`bound_curve`: the bound of an LR array at one horizon, or at every horizon at once.
* :func:`compute_optimal_base`, :func:`optimal_bound_curve`: the base LR minimising the bound, and the bound there.
* The paper's schedule classes (:class:`WSDSchedule`, :class:`CosineSchedule`, ...): LR arrays of ``steps``
  entries, each a thin face over one registered method (:attr:`ScheduleBase.method`).
* :func:`method_lrs`, :func:`method_bound`: the bound of any registered method or Composer recipe, as run.
* :func:`horizon_transfer`: re-shape a schedule tuned at ``T0`` for a longer ``T1`` keeping its base LR.

The schedule classes keep the names and signatures of the paper's ``scheduled`` package (``WSDSchedule(final_lr,
steps, base_lr, cooldown_len, ...)``) and live in this namespace only: ``composer_sched.ConstantSchedule`` and
``composer_sched.PiecewiseConstantSchedule`` are the core's shapes (named for their registered methods, with the
core's signatures), ``composer_sched.theory.ConstantSchedule`` the paper's class. They define no formula of their
own: each evaluates the schedule of a registered method (``wsd``, ``constant``, ``cosine_annealing``, ``inverse_sqrt``,
``polynomial``, ``piecewise_constant``) on step indices, converting the paper's arguments (a cool-down as a
fraction of ``steps``, endpoints included, relative or absolute final LRs, a warm-up prepended) as each class's
docstring says, so a method and its paper class cannot drift apart.

Layering: this package imports the core (:mod:`composer_sched.schedules`) and numpy only;
:mod:`composer_sched.theory.runs` reads Composer runs through the preview and the recipes, imported when called.
"""
from composer_sched.theory.bounds import (
    BOUND_TYPES,
    bound_curve,
    compute_optimal_base,
    compute_rate,
    optimal_bound_curve,
)
from composer_sched.theory.schedules import (
    ConstantSchedule,
    CosineSchedule,
    PiecewiseConstantSchedule,
    PolynomialBackwardSchedule,
    PolynomialCooldownSchedule,
    ScheduleBase,
    SqrtSchedule,
    WSDSchedule,
)
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
