r"""Theorem 1 for Composer runs: the LRs a registered method or a recipe applies, batch by batch, and their bound.

The learning rates are the multipliers of :func:`composer_sched.previewing.preview` (exactly what the Trainer applies:
batch :math:`k` gets the multiplier computed at time :math:`\max(k-1, 0)`) times the base LR, over a run of ``T``
batches; the bound is evaluated at ``T``. Because of the Trainer's one-batch lag, the last batch never gets the
final multiplier, so a decay to 0 still has a finite bound at ``T``.

This is the toolkit's one window on Composer: it replays a run through the one replay engine
(:mod:`composer_sched.previewing`, over the method's Composer scheduler) or a recipe (:mod:`composer_sched.recipes`),
both imported when a function is called, so ``import composer_sched.theory`` loads neither torch nor Composer.
It imports nothing from the CLI.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from composer_sched.schedules._base import check, check_int, check_number
from composer_sched.theory.bounds import compute_optimal_base, compute_rate

__all__ = ['method_lrs', 'method_bound', 'recipe_lrs']


def method_lrs(method: str, T: int, base_lr: float = 1.0, **params: Any) -> np.ndarray:
    """The LRs of the ``T`` batches of a run of a registered method with ``max_duration=f'{T}ba'``.

    Args:
        method: a registered method name (``composer-sched list``).
        T: batches, integer ``>= 1``.
        base_lr: multiplies the multipliers, ``>= 0`` (default 1: the multipliers).
        **params: the method's parameters (Composer time strings for durations).

    Raises:
        ValueError: an unknown method or parameter, a bad value, or ``T``/``base_lr`` out of range.

    Example:
        >>> method_lrs('wsd', 5, t_cooldown='0.6dur').round(3).tolist()  # batch k gets alpha(k - 1)
        [1.0, 1.0, 1.0, 1.0, 0.667]
    """
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.previewing import preview

    T = check_int('T', T, lo=1)
    base_lr = check_number('base_lr', base_lr, lo=0)
    return base_lr * preview(ComposerScheduler(method, **params), f'{T}ba')


def method_bound(method: str, T: int, G: Any = 1.0, D: float = 1.0, base_lr: Optional[float] = None,
                 type: str = 'refined', **params: Any) -> tuple[float, float]:
    r"""Theorem 1 for a registered method run for ``T`` batches: ``(base_lr, bound)``.

    With ``base_lr=None``, the optimal base LR :math:`\gamma^\star = \sqrt{t_1/(t_2+t_3)}` and
    :math:`\Omega^\star = 2\sqrt{t_1(t_2+t_3)}` (see :func:`~composer_sched.theory.compute_optimal_base`);
    otherwise the bound :math:`\Omega_T` at that base LR.

    Args:
        method: a registered method name.
        T: batches, integer ``>= 1``.
        G, D, type: as in :func:`~composer_sched.theory.compute_rate`.
        base_lr: ``None`` (optimal) or a base LR ``>= 0``.
        **params: the method's parameters.

    Raises:
        ValueError: bad method, parameters or ranges.

    Example:
        >>> base, bound = method_bound('cosine_annealing', 100)
        >>> round(base, 3), round(bound, 3)
        (0.093, 0.208)
    """
    mult = method_lrs(method, T, **params)
    if base_lr is None:
        return compute_optimal_base(mult, G, D, type=type)
    base_lr = check_number('base_lr', base_lr, lo=0)
    return base_lr, compute_rate(base_lr * mult, G, D, type=type)


def recipe_lrs(recipe: Union[str, os.PathLike, Any], overrides: Sequence[str] = ()) -> tuple[np.ndarray, float]:
    """The per-batch LR multipliers of a Composer recipe (all its schedulers multiplied) and its optimizer LR.

    Uses ``Recipe.preview()`` of :mod:`composer_sched.recipes`.

    Args:
        recipe: a path or bundled recipe name, or a loaded ``Recipe``.
        overrides: ``key=value`` overrides applied when loading.

    Returns:
        ``(multipliers, lr)``: a float array with one entry per batch of the (scaled) run, and the recipe's LR.

    Raises:
        ValueError: the recipe does not load (``RecipeError`` is a ``ValueError``) or has no preview.
    """
    from composer_sched.recipes import load_recipe

    rec: Any = recipe if hasattr(recipe, 'build_schedulers') else load_recipe(recipe, overrides)
    check(hasattr(rec, 'preview'), 'recipe', getattr(rec, 'path', recipe), 'a recipe with a preview() method')
    mult = np.asarray(rec.preview(), dtype=float)
    return mult, float(rec.lr)
