"""Scale Schedule: train for a fraction (or a multiple) of the budget with every LR schedule dilated to fit.

Arazo et al., "How Important is Importance Sampling for Deep Budgeted Training?" (2020). Method card:
``composer_sched/algorithms/scale_schedule/README.md``.
"""
from composer_sched.algorithms.scale_schedule.scale_schedule import METHODS as METHODS
from composer_sched.algorithms.scale_schedule.scale_schedule import ScaleRun as ScaleRun
from composer_sched.algorithms.scale_schedule.scale_schedule import ScaleSchedule as ScaleSchedule
from composer_sched.algorithms.scale_schedule.scale_schedule import apply_scale_schedule as apply_scale_schedule
from composer_sched.algorithms.scale_schedule.scale_schedule import scaled_duration as scaled_duration
from composer_sched.algorithms.scale_schedule.scale_scheduler import DilatedSchedule as DilatedSchedule
from composer_sched.algorithms.scale_schedule.scale_scheduler import scale_scheduler as scale_scheduler

ALGORITHM = ScaleSchedule

__all__ = ['ScaleSchedule', 'ScaleRun', 'apply_scale_schedule', 'scaled_duration', 'scale_scheduler', 'DilatedSchedule',
           'METHODS', 'ALGORITHM']
