"""MultiFactor: the registered ``'multi_factor'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['MultiFactor', 'multi_factor_scheduler']


class MultiFactor(SetterAlgorithm):
    r"""MXNet's multi-factor step decay as a Composer Algorithm.

    .. math:: \alpha(t) = \mathrm{factor}^{\,\#\{m \in \mathrm{step}\,:\, m < t\}}

    (each milestone takes effect after it has passed).

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import MultiFactor
        >>> algo = MultiFactor(step=['0.25dur', '0.75dur'], factor=0.5)
    """

    method = 'multi_factor'


multi_factor_scheduler = functional_form(MultiFactor)
