r"""LR range test: find the learning rate before a sweep, as fastai (``lr_find``) and Lightning
(``Tuner.lr_find``) users expect, with AutoWU's Gaussian process reading the curve.

``composer_sched.lr_find(...)`` runs the test (:func:`~composer_sched.lr_find.finder.lr_find`); the suggestion rules
are in :mod:`composer_sched.lr_find.suggest`. Method card: ``composer_sched/lr_find/README.md``.

The package itself is callable, so ``composer_sched.lr_find(model, opt, loss_fn, data)`` works whether Python
resolved ``composer_sched.lr_find`` to this package or to the function.
"""
from __future__ import annotations

import sys
import types

from composer_sched.lr_find.finder import LRFindResult, Snapshot, lr_find, ramp
from composer_sched.lr_find.suggest import (RULES, GPMinimum, Suggestion, gp_minimum, minimum, slide, smooth, steep,
                                            steepest_descent, suggest_all, valley)

__all__ = ['lr_find', 'LRFindResult', 'Snapshot', 'ramp', 'RULES', 'GPMinimum', 'Suggestion', 'gp_minimum',
           'minimum', 'slide', 'smooth', 'steep', 'steepest_descent', 'suggest_all', 'valley']


class _CallableModule(types.ModuleType):
    """Importing the sub-package sets ``composer_sched.lr_find`` to the module, shadowing the function of the same
    name; calling the module calls the function, so both spellings work."""

    def __call__(self, *args, **kwargs):
        return lr_find(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
