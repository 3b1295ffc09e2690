"""LinearWarmup: a warm-up factor over whatever schedule the run has, as a Composer Algorithm and functionally."""
from __future__ import annotations

from typing import Any, Callable, Union

from composer.core import State, Time

from composer_sched.adapters.composer import ComposerScheduler, takes_ssr
from composer_sched.algorithms.plan import SchedulePlan
from composer_sched.algorithms.roles import ModifierFn, ScheduleAlgorithm
from composer_sched.schedules._base import ScalarOps

__all__ = ['LinearWarmup', 'linear_warmup']


def _ramp(t_warmup: Union[str, Time, int], warmup_type: str, alpha_warmup: float, scale_warmup: bool,
          who: str) -> ComposerScheduler:
    # The ramp is the core warm-up wrapper around a constant 1: ScheduleSpec validates and places it (unscaled).
    try:
        return ComposerScheduler('constant', t_warmup=t_warmup, warmup_type=warmup_type, alpha_warmup=alpha_warmup,
                                 scale_warmup=scale_warmup)
    except ValueError as e:
        raise ValueError(str(e).replace('constant:', f'{who}:', 1)) from None


class LinearWarmup(ScheduleAlgorithm):
    r"""Multiply the run's schedule by a warm-up ramp (Goyal et al. 2017): linear or exponential.

    .. math::
        \alpha(t) = \alpha_{run}(t)\cdot r(t),\qquad
        r(t) = \begin{cases} a_0 + (1 - a_0)\,t/W & \text{linear} \\ a_0^{\,1 - t/W} & \text{exponential}
        \end{cases}\ (t \le W),\qquad r(t) = 1\ (t > W)

    :math:`\alpha_{run}` is whatever the run has: the schedule a setter installed, ``Trainer(schedulers=...)``
    (Composer or PyTorch schedulers), or a constant 1. The ramp is the core ``LinearWarmUp`` /
    ``ExponentialWarmUp`` wrapped around a constant; the run's schedule keeps its own clock (it is not shifted).

    Args:
        t_warmup: :math:`W`, a Composer time string (``'100ba'``, ``'1ep'``, ``'0.1dur'``), ``> 0``. An absolute
            warm-up is not scaled by the scale-schedule ratio; ``'dur'`` is a fraction of the scaled run, as in
            Composer. Default ``'0.1dur'``.
        warmup_type: ``'linear'`` (default) or ``'exponential'``.
        alpha_warmup: :math:`a_0`, the factor at ``t = 0``, in ``[0, 1]`` (``> 0`` for exponential). Default 0.
        scale_warmup: scale the warm-up with the ratio as well. Default ``False``.

    Raises:
        ValueError: a bad argument (at construction); a warm-up longer than training (at ``BEFORE_LOAD``).

    Example:
        >>> from composer_sched import LinearWarmup, SGDR
        >>> algos = [SGDR(t_0='0.25dur'), LinearWarmup(t_warmup='20ba', alpha_warmup=0.01)]
    """

    schedule_role = 'modifier'
    modifier_rank = 0

    def __init__(self, t_warmup: Union[str, int] = '0.1dur', warmup_type: str = 'linear', alpha_warmup: float = 0.0,
                 scale_warmup: bool = False):
        self.ramp = _ramp(t_warmup, warmup_type, alpha_warmup, scale_warmup, 'LinearWarmup')
        if self.ramp.spec.durations['t_warmup'].value <= 0:
            raise ValueError(f'LinearWarmup: t_warmup={t_warmup!r} is not allowed: t_warmup must be > 0.')
        if alpha_warmup > 1:
            raise ValueError(f'LinearWarmup: alpha_warmup={alpha_warmup!r} is not allowed: alpha_warmup must be in '
                             '[0, 1].')
        self._repr_args = {'t_warmup': t_warmup, 'warmup_type': warmup_type, 'alpha_warmup': alpha_warmup,
                           'scale_warmup': scale_warmup}

    def build_modifier(self, plan: SchedulePlan) -> ModifierFn:
        md = plan.max_duration
        core = self.ramp.schedule(md, plan.dataloader_len, plan.ssr)

        def fn(alphas, t, memo):
            r = core._eval(t, ScalarOps)
            return [a * r for a in alphas]

        return ModifierFn(self.ramp.axis(md), fn)


def linear_warmup(scheduler: Callable[..., float], **params: Any) -> Callable[[State, float], float]:
    """The functional form: ``scheduler`` (a Composer scheduler) times the warm-up ramp, as a stateless Composer
    scheduler for ``Trainer(schedulers=...)``.

    Args:
        scheduler: any Composer scheduler, ``fn(state, ssr)`` or ``fn(state)``.
        **params: as for :class:`LinearWarmup`.

    Raises:
        ValueError: a bad argument.

    Example:
        >>> from composer_sched import WSDScheduler
        >>> from composer_sched.algorithms.linear_warmup import linear_warmup
        >>> sched = linear_warmup(WSDScheduler(), t_warmup='10ba')
    """
    ramp = LinearWarmup(**params).ramp
    two_args = takes_ssr(scheduler)

    def warmed_up(state: State, ssr: float = 1.0) -> float:
        inner = scheduler(state, ssr) if two_args else scheduler(state)
        return inner * ramp(state, ssr)

    return warmed_up

