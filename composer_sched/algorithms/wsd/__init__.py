"""WSD: see ``README.md`` (the method card)."""
from composer_sched.algorithms.wsd.wsd import WSD, wsd_scheduler

ALGORITHM = WSD

__all__ = ['WSD', 'wsd_scheduler', 'ALGORITHM']
