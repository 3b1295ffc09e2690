"""Deprecated faces of the registered methods, kept for one release (each access warns, naming the new way):

* the per-method PyTorch classes (``WSDLR``, ``StepLR``, ``CosineAnnealingLR``, ...; eight of them reused torch's
  own names with other signatures): ``WSDLR(opt, total_steps, **params)`` is ``ScheduleLR(opt, 'wsd', total_steps,
  **params)``;
* ``TORCH_CLASSES`` and ``torch_scheduler(opt, method, total_steps, **params)``: ``ScheduleLR(opt, method,
  total_steps, **params)``;
* the functional forms (``wsd_scheduler(**params)``): ``WSDScheduler(**params)`` or
  ``composer_scheduler('wsd', **params)``.

The classes are made on first use, subclasses of :class:`~composer_sched.adapters.torch.ScheduleLR` that behave
exactly as it does (they pickle, under their old names).
"""
from __future__ import annotations

from typing import Any, Optional

from torch.optim import Optimizer

from composer_sched.adapters import names
from composer_sched.adapters.torch import ScheduleLR
from composer_sched.schedules._deprecated import warn_deprecated

__all__: list[str] = []

_MADE: dict[str, Any] = {}


def _torch_class(method: str) -> type[ScheduleLR]:
    name = names.old_torch_class(method)

    def __init__(self: ScheduleLR, optimizer: Optimizer, total_steps: int, *, steps_per_epoch: Optional[int] = None,
                 last_epoch: int = -1, **params: Any) -> None:
        ScheduleLR.__init__(self, optimizer, method, total_steps, steps_per_epoch=steps_per_epoch,
                            last_epoch=last_epoch, **params)

    return type(name, (ScheduleLR,), {
        '__init__': __init__, 'method_name': method, '__module__': __name__, '__qualname__': name,
        '__doc__': f"Deprecated: ``ScheduleLR(optimizer, {method!r}, total_steps, **params)``."})


def _functional_form(method: str) -> Any:
    from composer_sched.adapters.schedulers import SCHEDULER_CLASSES

    cls = SCHEDULER_CLASSES[method]

    def form(**params: Any) -> Any:
        return cls(**params)

    form.__name__ = form.__qualname__ = names.old_functional_form(method)
    form.__doc__ = f'Deprecated: ``{cls.__name__}(**params)``.'
    return form


def _torch_scheduler(optimizer: Optimizer, method: str, total_steps: int, **params: Any) -> ScheduleLR:
    """Deprecated: ``ScheduleLR(optimizer, method, total_steps, **params)``."""
    return ScheduleLR(optimizer, method, total_steps, **params)


def legacy(name: str) -> Any:
    """The deprecated object ``name`` (no warning: the module ``__getattr__`` and ``composer_sched``'s warn)."""
    if name not in _MADE:
        by_class = {names.old_torch_class(m): m for m in names.RELEASED_METHODS}
        by_form = {names.old_functional_form(m): m for m in names.RELEASED_METHODS}
        if name in by_class:
            _MADE[name] = _torch_class(by_class[name])
        elif name in by_form:
            _MADE[name] = _functional_form(by_form[name])
        elif name == 'torch_scheduler':
            _MADE[name] = _torch_scheduler
        elif name == 'TORCH_CLASSES':
            _MADE[name] = {m: legacy(names.old_torch_class(m)) for m in names.RELEASED_METHODS}
        else:
            raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return _MADE[name]


def __getattr__(name: str) -> Any:
    value = legacy(name)  # an AttributeError for any other name
    new = names.deprecated_method_names().get(name, ('', {
        'torch_scheduler': 'composer_sched.ScheduleLR(optimizer, method, total_steps, ...)',
        'TORCH_CLASSES': "composer_sched.ScheduleLR(optimizer, 'name', total_steps, ...)"}.get(name, '')))[1]
    warn_deprecated(f'{__name__}.{name}', new)
    return value
