"""Cooldown: see ``README.md`` (the method card)."""
from composer_sched.algorithms.cooldown.cooldown import Cooldown, cooldown

ALGORITHM = Cooldown

__all__ = ['Cooldown', 'cooldown', 'ALGORITHM']
