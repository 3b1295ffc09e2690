"""MultiFactor: the registered ``'multi_factor'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from typing import Any

from composer_sched.adapters.composer import ComposerScheduler, composer_scheduler
from composer_sched.algorithms.base import SetterAlgorithm

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


def multi_factor_scheduler(**params: Any) -> ComposerScheduler:
    """The functional form: the same schedule as a stateless Composer scheduler, for ``Trainer(schedulers=...)``.

    Args:
        **params: as for :class:`MultiFactor` (without ``replace``).

    Raises:
        ValueError: unknown parameter or bad value.

    Example:
        >>> from composer_sched.algorithms.multi_factor import multi_factor_scheduler
        >>> sched = multi_factor_scheduler()
    """
    return composer_scheduler('multi_factor', **params)
