"""AutoWU (Kim et al. 2021, arXiv 2107.05855): loss-driven automatic warm-up, then decay.

Two forms share one decision engine (:mod:`.engine`, with the Gaussian process of :mod:`.gp`):
:class:`AutoWU`, a Composer Algorithm, and :class:`AutoWUScheduler`, a PyTorch scheduler stepped with the loss.
See ``README.md`` (the method card).
"""
from composer_sched.algorithms.autowu.autowu import AutoWU
from composer_sched.algorithms.autowu.engine import AutoWUConfig, AutoWUEngine, Decision
from composer_sched.algorithms.autowu.gp import GPHyper, minimum_test, past_minimum_prob
from composer_sched.algorithms.autowu.scheduler import AutoWUScheduler

__all__ = ['AutoWU', 'AutoWUScheduler', 'AutoWUConfig', 'AutoWUEngine', 'Decision', 'GPHyper', 'minimum_test',
           'past_minimum_prob']

ALGORITHM = AutoWU
