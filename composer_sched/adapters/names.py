"""The public names of each registered method's generated classes, in one place (pure: imports neither torch nor
Composer, so ``composer_sched``'s lazy exports and the docs read it without them).

``make gen`` (``tools/gen.py``) writes the classes under these names; ``composer_sched.__init__`` maps the names to
their modules; the docs tables print them.
"""
from __future__ import annotations

from typing import Any

from composer_sched.schedules.registry import class_name, get_method

__all__ = ['SCHEDULERS_MODULE', 'TORCH_MODULE', 'SETTERS_MODULE', 'scheduler_class', 'torch_class',
           'algorithm_class', 'functional_form_name', 'algorithm_override']

#: The generated modules.
SCHEDULERS_MODULE = 'composer_sched.adapters.schedulers'
TORCH_MODULE = 'composer_sched.adapters.torch_schedulers'
SETTERS_MODULE = 'composer_sched.algorithms.setters'


def scheduler_class(method: Any) -> str:
    """The Composer scheduler class of a method: ``scheduler_class('wsd')`` is ``'WSDScheduler'``.

    Example:
        >>> scheduler_class('cosine_annealing'), torch_class('wsd'), algorithm_class('sgdr')
        ('CosineAnnealingScheduler', 'WSDLR', ('composer_sched.algorithms.setters', 'SGDR'))
    """
    return class_name(get_method(method).name, 'Scheduler')


def torch_class(method: Any) -> str:
    """The PyTorch scheduler class of a method: ``torch_class('wsd')`` is ``'WSDLR'``."""
    return class_name(get_method(method).name, 'LR')


def algorithm_override(method: Any) -> tuple[str, str] | None:
    """``(module, class)`` of a method's hand-written Algorithm (its config's ``ALGORITHM = 'module:Class'``, for
    an Algorithm with behaviour of its own, such as one_cycle's momentum cycling), or ``None``."""
    m = get_method(method)
    spec = m.algorithm
    if not spec:
        return None
    module, _, cls = str(spec).partition(':')
    if not module or not cls:
        raise ValueError(f"{m.name}: ALGORITHM={spec!r} is not allowed: give 'module:Class'.")
    return module, cls


def algorithm_class(method: Any) -> tuple[str, str]:
    """``(module, class)`` of a method's setter Algorithm: the generated one, or its config's ``ALGORITHM``."""
    return algorithm_override(method) or (SETTERS_MODULE, class_name(get_method(method).name))


def functional_form_name(method: Any) -> str:
    """The functional form of a method's setter: ``functional_form_name('wsd')`` is ``'wsd_scheduler'``."""
    return f'{get_method(method).name}_scheduler'
