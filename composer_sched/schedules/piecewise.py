"""Deprecated module path: the piecewise-constant method lives in :mod:`composer_sched.schedules.piecewise_constant`
(a module named for its method), its shape as ``PiecewiseConstantSchedule``."""
from composer_sched.schedules._deprecated import deprecated_getattr

__all__: list[str] = []

__getattr__ = deprecated_getattr(__name__, {
    'StepwiseSchedule': ('composer_sched.schedules.piecewise_constant:PiecewiseConstantSchedule',
                         'composer_sched.PiecewiseConstantSchedule'),
    'PiecewiseConstantConfig': ('composer_sched.schedules.piecewise_constant:PiecewiseConstantConfig',
                                'composer_sched.schedules.piecewise_constant.PiecewiseConstantConfig'),
})
