"""LinearCooldown: see ``README.md`` (the method card)."""
from composer_sched.algorithms.linear_cooldown.linear_cooldown import LinearCooldown, linear_cooldown

ALGORITHM = LinearCooldown

__all__ = ['LinearCooldown', 'linear_cooldown', 'ALGORITHM']
