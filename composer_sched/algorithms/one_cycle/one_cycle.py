"""OneCycle: the registered ``'one_cycle'`` method as a schedule-setting Composer Algorithm that also cycles the
momentum. :data:`composer_sched.algorithms.OWN_SETTERS` declares it, so ``make gen`` imports it into
:mod:`composer_sched.algorithms.setters` instead of generating a plain setter."""
from __future__ import annotations

import inspect
from typing import Any

from composer_sched.adapters.composer import Duration
from composer_sched.algorithms.roles import SetterAlgorithm
from composer_sched.schedules._base import check, check_number
from composer_sched.schedules.registry import unknown_parameter

__all__ = ['OneCycle']


class OneCycle(SetterAlgorithm):
    r"""1-cycle policy (Smith & Topin 2017) as a Composer Algorithm.

    .. math::
        \alpha = \mathrm{CoolDown}\big(\mathrm{Triangular}(\alpha_{start}, \alpha_{max}, L, \tfrac12),
                 \ \alpha_f,\ s=L,\ C\big)

    with :math:`L` = ``t_cycle`` and :math:`C` = ``t_cooldown``.

    Momentum cycling (``cycle_momentum=True``, as torch's ``OneCycleLR`` and fastai do): each batch, the
    momentum (SGD) or beta1 (Adam) moves opposite to the LR, from ``max_momentum`` at the start to
    ``base_momentum`` at the peak and back (see :meth:`momentum`).

    It installs the schedule at ``Event.BEFORE_LOAD``; durations follow the scale-schedule rule (absolute ones
    scale, the warm-up does not). See the method card (``README.md``) for events and composition.

    Args:
        replace: replace ``Trainer(schedulers=...)`` and any other setter. Default ``False``.
        cycle_momentum: cycle the momentum (SGD) or beta1 (Adam) opposite to the LR. Default ``False``.
        base_momentum: the momentum at the LR's peak; in [0, 1). Default ``0.85``.
        max_momentum: the momentum at the start and in the cool-down; in [base_momentum, 1). Default ``0.95``.
        t_cycle, t_cooldown, alpha_start, alpha_max, alpha_f, t_warmup, warmup_type, alpha_warmup, scale_warmup,
        warmup_overlay: the
            ``'one_cycle'`` method's parameters, as for :class:`~composer_sched.adapters.schedulers.OneCycleScheduler`
            (``composer-sched list`` shows their ranges); ``tests/test_generated.py`` checks that this signature
            matches the registry's.

    Raises:
        ValueError: a value outside its range (at construction); durations that do not fit ``max_duration``, a
            conflicting setter or scheduler, or ``cycle_momentum=True`` with an optimizer without momentum (at
            ``Event.BEFORE_LOAD``).

    Example:
        >>> from composer_sched import OneCycle
        >>> algo = OneCycle(t_cycle='0.7dur', t_cooldown='0.3dur', cycle_momentum=True)
    """

    method = 'one_cycle'

    def __init__(self, *, replace: bool = False, cycle_momentum: bool = False, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, t_cycle: Duration = '0.8dur', t_cooldown: Duration = '0.2dur',
                 alpha_start: float = 0.1, alpha_max: float = 1.0, alpha_f: float = 0.001, t_warmup: Duration = '0ba',
                 warmup_type: str = 'linear', alpha_warmup: float = 0.0, scale_warmup: bool = False,
                 warmup_overlay: bool = False, **misspelt: Any) -> None:
        for name in misspelt:  # the same ValueError as every face of the method, among all of this one's keywords
            raise unknown_parameter('one_cycle', name, [k for k in inspect.signature(OneCycle).parameters
                                                        if k != 'misspelt'])
        super().__init__(replace=replace, t_cycle=t_cycle, t_cooldown=t_cooldown, alpha_start=alpha_start,
                         alpha_max=alpha_max, alpha_f=alpha_f, t_warmup=t_warmup, warmup_type=warmup_type,
                         alpha_warmup=alpha_warmup, scale_warmup=scale_warmup, warmup_overlay=warmup_overlay)
        check(isinstance(cycle_momentum, bool), 'cycle_momentum', cycle_momentum, 'true or false')
        check_number('base_momentum', base_momentum, lo=0, hi=1, hi_open=True)
        check_number('max_momentum', max_momentum, lo=base_momentum, hi=1, hi_open=True)
        self.cycle_momentum = cycle_momentum
        self.base_momentum = float(base_momentum)
        self.max_momentum = float(max_momentum)
        if cycle_momentum:
            self._repr_args.update(cycle_momentum=True, base_momentum=base_momentum, max_momentum=max_momentum)

    def momentum(self, alpha: float) -> float:
        r"""The momentum (or Adam beta1) that goes with LR multiplier ``alpha``: it moves opposite to the LR.

        .. math:: m = \mathrm{clip}\Big(m_{max} - (m_{max} - m_{base})
                  \frac{\alpha - \alpha_{start}}{\alpha_{max} - \alpha_{start}},\ m_{base},\ m_{max}\Big)

        so :math:`m_{max}` at the start, :math:`m_{base}` at the peak, :math:`m_{max}` again during the cool-down.
        """
        p = self.scheduler.spec.params
        lo, hi = p['alpha_start'], p['alpha_max']
        if hi == lo:
            return self.max_momentum
        frac = min(max((alpha - lo) / (hi - lo), 0.0), 1.0)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * frac

    def check_optimizer(self, optimizer: Any) -> None:
        if self.cycle_momentum and not all('momentum' in g or 'betas' in g for g in optimizer.param_groups):
            raise ValueError(f'cycle_momentum=True is not allowed with {type(optimizer).__name__}: its param groups '
                             "have neither 'momentum' nor 'betas'; use an SGD-like or Adam-like optimizer or "
                             'cycle_momentum=False.')

    def after_lr(self, optimizer: Any, alpha: float) -> None:
        if not self.cycle_momentum:
            return
        m = self.momentum(alpha)
        for g in optimizer.param_groups:
            if 'betas' in g:
                g['betas'] = (m, *tuple(g['betas'])[1:])
            else:
                g['momentum'] = m

