"""Triangular: the registered ``'triangular'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['Triangular', 'triangular_scheduler']


class Triangular(SetterAlgorithm):
    r"""(Slanted) triangular schedule (Smith 2015; Howard & Ruder 2018) as a Composer Algorithm.

    .. math::
        \alpha(t) = \alpha_{min} + (\alpha_{max} - \alpha_{min})\,u(t),\quad
        u = \begin{cases} t/(fL) & t \le fL \\ (L - t)/((1-f)L) & fL < t \le L \\ 0 & t > L \end{cases}

    with :math:`L` = ``t_cycle`` and :math:`f` = ``inc_fraction`` (``f < 0.5`` is the slanted variant).

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import Triangular
        >>> algo = Triangular(t_cycle='1dur', inc_fraction=0.2, alpha_min=0.1)
    """

    method = 'triangular'


triangular_scheduler = functional_form(Triangular)
