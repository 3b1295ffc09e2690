"""Warmup: a warm-up factor over whatever schedule the run has, as a Composer Algorithm and functionally."""
from __future__ import annotations

from typing import Any, Callable, Union

from composer.core import State

from composer_sched.adapters.composer import ComposerScheduler, takes_ssr
from composer_sched.algorithms.plan import SchedulePlan
from composer_sched.algorithms.roles import ModifierFn, ScheduleAlgorithm
from composer_sched.schedules._base import ScalarOps, check_choice
from composer_sched.schedules.registry import unknown_parameter

__all__ = ['Warmup', 'warmup', 'WARMUP_SHAPES']

#: The ramps of :class:`Warmup` (``shape``), and the generic warm-up's name for each (``warmup_type``).
WARMUP_SHAPES = {'linear': 'linear', 'exp': 'exponential', 'sqrt': 'sqrt'}
_PARAMS = ('t_warmup', 'shape', 'alpha_warmup', 'scale_warmup')


def _ramp(t_warmup: Union[str, int], warmup_type: str, alpha_warmup: float, scale_warmup: bool,
          who: str) -> ComposerScheduler:
    # The ramp is the core warm-up wrapper around a constant 1: ScheduleSpec validates and places it (unscaled).
    try:
        return ComposerScheduler('constant', t_warmup=t_warmup, warmup_type=warmup_type, alpha_warmup=alpha_warmup,
                                 scale_warmup=scale_warmup)
    except ValueError as e:
        raise ValueError(str(e).replace('constant:', f'{who}:', 1)) from None


class Warmup(ScheduleAlgorithm):
    r"""Multiply the run's schedule by a warm-up ramp (Goyal et al. 2017): linear, exponential or sqrt.

    .. math::
        \alpha(t) = \alpha_{run}(t)\cdot r(t),\qquad
        r(t) = \begin{cases} a_0 + (1 - a_0)\,t/W & \text{linear} \\ a_0^{\,1 - t/W} & \text{exp} \\
        a_0 + (1 - a_0)\sqrt{t/W} & \text{sqrt} \end{cases}\ (t \le W),\qquad r(t) = 1\ (t > W)

    :math:`\alpha_{run}` is whatever the run has: the schedule a setter installed, ``Trainer(schedulers=...)``
    (Composer or PyTorch schedulers), or a constant 1. The ramp is the core ``LinearWarmUp`` /
    ``ExponentialWarmUp`` / ``SqrtWarmUp`` wrapped around a constant; the run's schedule keeps its own clock (it is
    multiplied, not shifted). For a warm-up that *shifts* a method's shape to start after it, use the method's own
    ``t_warmup`` instead (README, "Composing schedules").

    Args:
        t_warmup: :math:`W`, a Composer time string (``'100ba'``, ``'1ep'``, ``'0.1dur'``), ``> 0``. An absolute
            warm-up is not scaled by the scale-schedule ratio; ``'dur'`` is a fraction of the scaled run, as in
            Composer. Default ``'0.1dur'``.
        shape: ``'linear'`` (default), ``'exp'`` (geometric, from :math:`a_0 > 0`) or ``'sqrt'``.
        alpha_warmup: :math:`a_0`, the factor at ``t = 0``, in ``[0, 1]`` (``> 0`` for exp). Default 0.
        scale_warmup: scale the warm-up with the ratio as well. Default ``False``.

    Raises:
        ValueError: a bad or unknown argument (at construction, naming the closest parameter); a warm-up longer than
            training (at ``BEFORE_LOAD``).

    Example:
        >>> from composer_sched import Warmup, SGDR, preview
        >>> algos = [SGDR(t_0='0.25dur'), Warmup(t_warmup='20ba', alpha_warmup=0.01)]
        >>> preview([], '5ba', algorithms=[Warmup(t_warmup='4ba', shape='sqrt')]).tolist()  # batch k: time k - 1
        [0.0, 0.0, 0.5, 0.7071067811865476, 0.8660254037844386]
    """

    schedule_role = 'modifier'
    modifier_rank = 0

    def __init__(self, t_warmup: Union[str, int] = '0.1dur', shape: str = 'linear', alpha_warmup: float = 0.0,
                 scale_warmup: bool = False, **misspelt: Any):
        for name in misspelt:
            raise unknown_parameter('Warmup', name, _PARAMS)
        who = type(self).__name__
        check_choice('shape', shape, tuple(WARMUP_SHAPES))
        self.ramp = _ramp(t_warmup, WARMUP_SHAPES[shape], alpha_warmup, scale_warmup, who)
        if self.ramp.spec.durations['t_warmup'].value <= 0:
            raise ValueError(f'{who}: t_warmup={t_warmup!r} is not allowed: t_warmup must be > 0.')
        if alpha_warmup > 1:
            raise ValueError(f'{who}: alpha_warmup={alpha_warmup!r} is not allowed: alpha_warmup must be in [0, 1].')
        self._repr_args = {'t_warmup': t_warmup, 'shape': shape, 'alpha_warmup': alpha_warmup,
                           'scale_warmup': scale_warmup}

    def build_modifier(self, plan: SchedulePlan) -> ModifierFn:
        md = plan.max_duration
        core = self.ramp.schedule(md, plan.dataloader_len, plan.ssr)
        return ModifierFn(self.ramp.axis(md), _Ramp(core))


class _Ramp:
    """The per-batch factor of a resolved ramp (a class, not a closure: the driver's modifiers pickle)."""

    def __init__(self, core: Any):
        self.core = core

    def __call__(self, alphas: list, t: float, memo: dict) -> list:
        r = self.core._eval(t, ScalarOps)
        return [a * r for a in alphas]


class _Warmed:
    """``scheduler`` times a ramp: the stateless Composer scheduler :func:`warmup` returns (picklable)."""

    def __init__(self, scheduler: Callable[..., float], ramp: ComposerScheduler):
        self.scheduler, self.ramp = scheduler, ramp
        self._two_args = takes_ssr(scheduler)

    def __call__(self, state: State, ssr: float = 1.0) -> float:
        inner = self.scheduler(state, ssr) if self._two_args else self.scheduler(state)
        return inner * self.ramp(state, ssr)

    def __repr__(self) -> str:
        return f'warmup({self.scheduler!r}, {self.ramp!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Warmed) and (other.scheduler, other.ramp) == (self.scheduler, self.ramp)

    def __hash__(self) -> int:
        return hash(repr(self))


def warmup(scheduler: Callable[..., float], **params: Any) -> Callable[[State, float], float]:
    """The functional form: ``scheduler`` (a Composer scheduler) times the warm-up ramp, as a stateless Composer
    scheduler for ``Trainer(schedulers=...)``.

    Args:
        scheduler: any Composer scheduler, ``fn(state, ssr)`` or ``fn(state)``.
        **params: as for :class:`Warmup`.

    Raises:
        ValueError: a bad argument.

    Example:
        >>> from composer_sched import WSDScheduler, preview
        >>> from composer_sched.algorithms.warmup import warmup
        >>> preview(warmup(WSDScheduler(t_cooldown='0.5dur'), t_warmup='2ba'), '6ba').tolist()
        [0.0, 0.0, 0.5, 1.0, 1.0, 0.6666666666666667]
    """
    return _Warmed(scheduler, Warmup(**params).ramp)
