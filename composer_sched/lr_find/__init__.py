r"""LR range test: find the learning rate before a sweep, as fastai (``lr_find``) and Lightning
(``Tuner.lr_find``) users expect, with AutoWU's Gaussian process reading the curve.

``composer_sched.lr_find(...)`` runs the test (:func:`~composer_sched.lr_find.finder.lr_find`); the suggestion rules
are in :mod:`composer_sched.lr_find.suggest`. Method card: ``composer_sched/lr_find/README.md``.

``composer_sched.lr_find`` is callable whichever way Python resolved it (the function, or this package's stand-in
in ``sys.modules``, see :class:`_Entry`).
"""
from __future__ import annotations

import sys

from composer_sched.lr_find.finder import LRFindResult, Snapshot, lr_find, ramp
from composer_sched.lr_find.suggest import (
    RULES,
    GPMinimum,
    Suggestion,
    gp_minimum,
    minimum,
    slide,
    smooth,
    steep,
    steepest_descent,
    suggest_all,
    valley,
)

__all__ = ['lr_find', 'LRFindResult', 'Snapshot', 'ramp', 'RULES', 'GPMinimum', 'Suggestion', 'gp_minimum',
           'minimum', 'slide', 'smooth', 'steep', 'steepest_descent', 'suggest_all', 'valley']


class _Entry:
    """``composer_sched.lr_find``: the range test when called, this package for everything else.

    Importing a sub-package sets the parent's attribute to it, which would shadow the public function
    ``composer_sched.lr_find`` with a module. ``sys.modules`` holds this callable stand-in instead: calls go to
    :func:`~composer_sched.lr_find.finder.lr_find`, attribute reads and writes (``__path__`` for the sub-module
    imports included) to the package.
    """
    __wrapped__ = staticmethod(lr_find)  # inspect.signature / help show the function's

    def __init__(self, package):
        object.__setattr__(self, '_package', package)

    def __call__(self, *args, **kwargs):
        return lr_find(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._package, name)

    def __setattr__(self, name, value):
        setattr(self._package, name, value)

    def __dir__(self):
        return dir(self._package)

    def __repr__(self):
        return f'<lr_find: the LR range test (package {self._package.__name__!r})>'


sys.modules[__name__] = _Entry(sys.modules[__name__])  # type: ignore[assignment]  # a callable stand-in
