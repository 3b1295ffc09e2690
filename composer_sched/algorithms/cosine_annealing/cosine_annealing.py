"""CosineAnnealing: the registered ``'cosine_annealing'`` method as a schedule-setting Composer Algorithm, and its functional form."""
from __future__ import annotations

from composer_sched.algorithms.base import SetterAlgorithm, functional_form

__all__ = ['CosineAnnealing', 'cosine_annealing_scheduler']


class CosineAnnealing(SetterAlgorithm):
    r"""Cosine annealing (Loshchilov & Hutter 2016) as a Composer Algorithm.

    .. math:: \alpha(t) = \alpha_f + (\alpha_i - \alpha_f)\,\tfrac12\big(1 + \cos(\pi\,\min(t, T)/T)\big)

    with :math:`T` = ``t_max``; after :math:`T` it stays at :math:`\alpha_f` (the tutorial's semantics).

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Example:
        >>> from composer_sched import CosineAnnealing
        >>> algo = CosineAnnealing(alpha_f=0.01, t_warmup='5ba')
    """

    method = 'cosine_annealing'


cosine_annealing_scheduler = functional_form(CosineAnnealing)
