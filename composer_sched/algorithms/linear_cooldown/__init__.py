"""Deprecated: ``LinearCooldown`` is :class:`~composer_sched.algorithms.cooldown.Cooldown` (same arguments; its
``shape`` also takes ``'exp'``), ``linear_cooldown`` is :func:`~composer_sched.algorithms.cooldown.cooldown`; recipe
key ``linear_cooldown`` is ``cooldown``. Kept for one release."""
from composer_sched.schedules._deprecated import deprecated_getattr

__all__: list[str] = []

__getattr__ = deprecated_getattr(__name__, {
    'LinearCooldown': ('composer_sched.algorithms.cooldown:Cooldown', 'composer_sched.Cooldown'),
    'ALGORITHM': ('composer_sched.algorithms.cooldown:Cooldown', 'composer_sched.Cooldown'),
    'linear_cooldown': ('composer_sched.algorithms.cooldown:cooldown',
                        'composer_sched.algorithms.cooldown.cooldown(scheduler, ...)'),
})
