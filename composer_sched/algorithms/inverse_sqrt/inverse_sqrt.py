"""InverseSqrt: the registered ``'inverse_sqrt'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['InverseSqrt', 'inverse_sqrt_scheduler']


class InverseSqrt(SetterAlgorithm):
    r"""Inverse-square-root decay with an optional final cool-down as a Composer Algorithm.

    .. math:: \alpha(t) = 1/\sqrt{1 + t/\tau}

    with :math:`\tau` = ``t_scale``, then over the last ``t_cooldown`` before ``t_max`` a linear or 1-sqrt
    cool-down to ``alpha_f``.

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import InverseSqrt
        >>> algo = InverseSqrt(t_warmup='10ba', t_scale='0.1dur', t_cooldown='0.1dur')
    """

    method = 'inverse_sqrt'


inverse_sqrt_scheduler = functional_form(InverseSqrt)
