"""Inverse square-root decay (Vaswani et al. 2017), with an optional cool-down at the end."""
from __future__ import annotations

import dataclasses

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['InverseSqrtSchedule']


@dataclasses.dataclass(frozen=True)
class InverseSqrtSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0 / \sqrt{1 + t/\tau}`, or :math:`\eta_0 (1 + t/\tau)^{-p}` for another ``power``.

    Args:
        scale: :math:`\tau`, ``> 0``: the decay halves the LR at :math:`t = 3\tau`.
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).
        power: :math:`p`, ``>= 0`` (default 0.5, the inverse square root; 1 gives :math:`1/t`-type decay, as in
            the polynomial schedules of :mod:`composer_sched.theory`).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = InverseSqrtSchedule(scale=100)
        >>> s(0), s(300)
        (1.0, 0.5)
    """
    scale: float
    base_lr: float = 1.0
    power: float = 0.5

    def __post_init__(self):
        check_number('scale', self.scale, lo=0, lo_open=True)
        check_number('base_lr', self.base_lr, lo=0)
        check_number('power', self.power, lo=0)

    def _eval(self, t, ops):
        x = 1.0 + ops.maximum(t, 0.0) / self.scale
        if self.power == 0.5:  # sqrt is exact and faster than ** 0.5
            return self.base_lr / ops.sqrt(x)
        return self.base_lr * x ** -self.power


def _build(t_scale, t_cooldown, alpha_f, decay_type, t_max):
    shape = InverseSqrtSchedule(scale=t_scale)
    if t_cooldown <= 0:
        return shape
    return LinearCoolDown(shape, finish_lr=alpha_f, start_idx=max(t_max - t_cooldown, 0.0), length=t_cooldown,
                          shape=decay_type)


register(Method(
    name='inverse_sqrt',
    summary='1/sqrt(1 + t/t_scale) decay, with an optional cool-down to alpha_f over the last t_cooldown.',
    params=(Param('t_scale', '0.1dur', 'duration', 'time scale of the decay'),
            Param('t_cooldown', '0dur', 'duration', 'length of the final cool-down (0: none)'),
            Param('alpha_f', 0.0, doc='multiplier at the end of the cool-down', lo=0),
            Param('decay_type', 'linear', doc='cool-down shape', choices=('linear', 'sqrt')),
            Param('t_max', '1dur', 'duration', 'where the cool-down ends')),
    build=_build,
    budget_free_prefix=True,
    aliases={'scale': 't_scale', 'finish_lr': 'alpha_f', 'length': 't_cooldown', 'shape': 'decay_type'},
    reference='Vaswani et al. (2017); Zhai et al. (2022) cool-down',
))
