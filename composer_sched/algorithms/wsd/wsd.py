"""WSD: the registered ``'wsd'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['WSD', 'wsd_scheduler']


class WSD(SetterAlgorithm):
    r"""Warmup-stable-decay (Hägele et al. 2024) as a Composer Algorithm.

    .. math:: \alpha(t) = \begin{cases} 1 & t \le T - C \\ \mathrm{decay}\big((t - T + C)/C\big) & t > T - C \end{cases}

    with :math:`T` = ``t_max``, :math:`C` = ``t_cooldown`` and a linear or 1-sqrt decay to ``alpha_f``.

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import WSD
        >>> algo = WSD(t_warmup='10ba', t_cooldown='0.2dur', decay_type='sqrt')
    """

    method = 'wsd'


wsd_scheduler = functional_form(WSD)
