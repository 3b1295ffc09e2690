"""Deprecated: ``LinearWarmup`` is :class:`~composer_sched.algorithms.warmup.Warmup` (``warmup_type='linear'`` or
``'exponential'`` is its ``shape='linear'`` or ``'exp'``), ``linear_warmup`` is
:func:`~composer_sched.algorithms.warmup.warmup`; recipe key ``linear_warmup`` is ``warmup``. Kept for one release."""
from __future__ import annotations

from typing import Any, Callable, Union

from composer_sched.algorithms.warmup.warmup import Warmup, warmup
from composer_sched.schedules._deprecated import deprecated_getattr

__all__: list[str] = []

_SHAPE = {'linear': 'linear', 'exponential': 'exp', 'exp': 'exp', 'sqrt': 'sqrt'}


class _LinearWarmup(Warmup):
    """``Warmup`` under its old name and signature (``warmup_type`` for ``shape``)."""

    def __init__(self, t_warmup: Union[str, int] = '0.1dur', warmup_type: str = 'linear', alpha_warmup: float = 0.0,
                 scale_warmup: bool = False, **misspelt: Any):
        super().__init__(t_warmup, _SHAPE.get(warmup_type, warmup_type), alpha_warmup, scale_warmup, **misspelt)
        self._repr_args = {'t_warmup': t_warmup, 'warmup_type': warmup_type, 'alpha_warmup': alpha_warmup,
                           'scale_warmup': scale_warmup}


_LinearWarmup.__name__ = _LinearWarmup.__qualname__ = 'LinearWarmup'


def _linear_warmup(scheduler: Callable[..., float], **params: Any) -> Any:
    """``warmup`` under its old name and arguments (``warmup_type`` for ``shape``)."""
    if 'warmup_type' in params:
        kind = params.pop('warmup_type')
        params['shape'] = _SHAPE.get(kind, kind)
    return warmup(scheduler, **params)


__getattr__ = deprecated_getattr(__name__, {
    'LinearWarmup': (f'{__name__}:_LinearWarmup', "composer_sched.Warmup(shape='linear' or 'exp', ...)"),
    'ALGORITHM': (f'{__name__}:_LinearWarmup', "composer_sched.Warmup(shape='linear' or 'exp', ...)"),
    'linear_warmup': (f'{__name__}:_linear_warmup', 'composer_sched.algorithms.warmup.warmup(scheduler, ...)'),
})
