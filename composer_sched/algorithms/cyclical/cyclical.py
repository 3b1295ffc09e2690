"""Cyclical: the registered ``'cyclical'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['Cyclical', 'cyclical_scheduler']


class Cyclical(SetterAlgorithm):
    r"""Cyclical schedule (Smith 2015): repeated triangular or cosine cycles as a Composer Algorithm.

    Cycle :math:`i` lasts :math:`L_i = \lceil L_{i-1}\,d_L \rceil` (``cycle_length_decay``) and its values are
    scaled by :math:`d_M^{\,i}` (``cycle_magnitude_decay``); inside a cycle the shape goes between ``alpha_min`` and
    ``alpha_max``.

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import Cyclical
        >>> algo = Cyclical(shape='triangular', t_cycle='0.25dur', alpha_min=0.2)
    """

    method = 'cyclical'


cyclical_scheduler = functional_form(Cyclical)
