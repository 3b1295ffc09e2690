"""Transitional re-exports (issue 14): this module was split by responsibility and goes at integration.

=====================================  =======================================================================
old name (``algorithms.base``)         new home
=====================================  =======================================================================
``ROLES``, ``ModifierFn``,             :mod:`composer_sched.algorithms.roles`
``ScheduleAlgorithm``,
``SetterAlgorithm``
``SchedulePlan``, ``compose``          :mod:`composer_sched.algorithms.plan`
``ScheduleDriver``, ``install``,       :mod:`composer_sched.algorithms.driver`
``find_driver``
``simulate``                           :mod:`composer_sched.previewing` (the one replay engine)
``functional_form``                    gone: ``make gen`` writes one explicit ``<method>_scheduler`` per method
=====================================  =======================================================================
"""
from __future__ import annotations

from composer_sched.algorithms.driver import ScheduleDriver, find_driver, install
from composer_sched.algorithms.plan import SchedulePlan, compose
from composer_sched.algorithms.roles import ROLES, ModifierFn, ScheduleAlgorithm, SetterAlgorithm

__all__ = ['ROLES', 'ScheduleAlgorithm', 'SetterAlgorithm', 'ModifierFn', 'SchedulePlan', 'ScheduleDriver', 'compose',
           'install', 'find_driver']
