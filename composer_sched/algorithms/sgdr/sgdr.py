"""SGDR: the registered ``'sgdr'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['SGDR', 'sgdr_scheduler']


class SGDR(SetterAlgorithm):
    r"""SGDR: stochastic gradient descent with warm restarts (Loshchilov & Hutter 2016) as a Composer Algorithm.

    Cosine cycles from the cycle's peak to ``alpha_f``; cycle :math:`i` is :math:`T_0\,m^i` long
    (``t_mult``) and peaks at ``magnitude_decay``:math:`^i`.

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import SGDR
        >>> algo = SGDR(t_0='0.25dur', t_mult=2.0, magnitude_decay=0.5)
    """

    method = 'sgdr'


sgdr_scheduler = functional_form(SGDR)
