"""CosineAnnealing: see ``README.md`` (the method card)."""
from composer_sched.algorithms.cosine_annealing.cosine_annealing import CosineAnnealing, cosine_annealing_scheduler

ALGORITHM = CosineAnnealing

__all__ = ['CosineAnnealing', 'cosine_annealing_scheduler', 'ALGORITHM']
