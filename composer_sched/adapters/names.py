"""The public names of each registered method, in one place (pure: imports neither torch nor Composer, so
``composer_sched``'s lazy exports, the generator and the docs read it without them).

The scheme (CONTRIBUTING.md, "Names"): a registered method ``'cosine_annealing'`` has at most four public names,

* ``CosineAnnealingConfig``: its definition (``composer_sched/schedules/<method>.py``);
* ``CosineAnnealingScheduler``: its Composer scheduler (generated, ``make gen``);
* ``CosineAnnealing``: its Composer Algorithm (a generated setter, or one with behaviour of its own);
* ``CosineAnnealingSchedule``: its core shape, where the seed or a user needs one by name.

Its PyTorch face is the generic ``ScheduleLR(optimizer, 'cosine_annealing', total_steps, ...)``. The prefix is the
registry name in CamelCase, acronyms upper case (``WSD``, ``SGDR``, ``CyclicLR``). An Algorithm whose name would be
a PyTorch scheduler's (cyclic_lr's would be torch's ``CyclicLR``, a scheduler with another signature) is
``<Name>Algorithm``: ``CyclicLRAlgorithm``.

:data:`DEPRECATED` names the old spellings (kept for one release) with their replacements.
"""
from __future__ import annotations

from typing import Any

from composer_sched.schedules.registry import class_name, get_method

__all__ = ['SCHEDULERS_MODULE', 'SETTERS_MODULE', 'TORCH_MODULE', 'TORCH_SCHEDULER_NAMES', 'scheduler_class',
           'algorithm_class', 'old_torch_class', 'old_functional_form', 'deprecated_method_names', 'torch_class',
           'functional_form_name']

#: The generated modules (and the module of the deprecated per-method PyTorch classes).
SCHEDULERS_MODULE = 'composer_sched.adapters.schedulers'
SETTERS_MODULE = 'composer_sched.algorithms.setters'
TORCH_MODULE = 'composer_sched.adapters.torch_schedulers'

#: The classes of ``torch.optim.lr_scheduler`` (torch 2.7): no public name of ours may be one of them
#: (``tests/test_names.py`` checks this list against torch).
TORCH_SCHEDULER_NAMES = frozenset({
    'LRScheduler', 'LambdaLR', 'MultiplicativeLR', 'StepLR', 'MultiStepLR', 'ConstantLR', 'LinearLR', 'ExponentialLR',
    'SequentialLR', 'CosineAnnealingLR', 'ChainedScheduler', 'ReduceLROnPlateau', 'CyclicLR',
    'CosineAnnealingWarmRestarts', 'OneCycleLR', 'PolynomialLR'})

# Before this scheme: cyclic_lr was spelt CyclicLr (CyclicLrScheduler, CyclicLr, CyclicLrLR).
_OLD_PREFIX = {'cyclic_lr': 'CyclicLr'}


def scheduler_class(method: Any) -> str:
    """The Composer scheduler class of a method.

    Example:
        >>> scheduler_class('cosine_annealing'), scheduler_class('cyclic_lr'), algorithm_class('cyclic_lr')[1]
        ('CosineAnnealingScheduler', 'CyclicLRScheduler', 'CyclicLRAlgorithm')
    """
    return class_name(get_method(method).name, 'Scheduler')


def algorithm_class(method: Any) -> tuple[str, str]:
    """``(module, class)`` of a method's Composer Algorithm. Every one is importable from the generated setters
    module (a hand-written one, declared in :data:`composer_sched.algorithms.OWN_SETTERS`, is re-exported there)."""
    name = class_name(get_method(method).name)
    return SETTERS_MODULE, name + 'Algorithm' if name in TORCH_SCHEDULER_NAMES else name


def _old_prefix(method: str) -> str:
    return _OLD_PREFIX.get(method, class_name(method))


def old_torch_class(method: Any) -> str:
    """The deprecated per-method PyTorch class of a method (``'WSDLR'``; use ``ScheduleLR(opt, 'wsd', ...)``)."""
    return _old_prefix(get_method(method).name) + 'LR'


def old_functional_form(method: Any) -> str:
    """The deprecated functional form of a method (``'wsd_scheduler'``: it only built ``WSDScheduler``)."""
    return f'{get_method(method).name}_scheduler'


#: The methods of the release before the naming scheme: the only ones whose per-method torch classes, functional
#: forms and old spellings ever existed, and so the only ones they are kept for.
RELEASED_METHODS = ('constant', 'cosine_annealing', 'cyclic_lr', 'cyclical', 'exponential', 'inverse_sqrt', 'linear',
                    'multi_factor', 'multi_step', 'one_cycle', 'piecewise_constant', 'polynomial', 'sgdr', 'step',
                    'triangular', 'wsd')


def deprecated_method_names() -> dict[str, tuple[str, str]]:
    """Every deprecated per-method name -> (``'module:attribute'`` it resolves to, the new spelling).

    Example:
        >>> old = deprecated_method_names()
        >>> old['wsd_scheduler'][1], old['CyclicLr'][1]
        ("composer_sched.WSDScheduler(...) or composer_scheduler('wsd', ...)", 'composer_sched.CyclicLRAlgorithm')
    """
    out: dict[str, tuple[str, str]] = {}
    for m in RELEASED_METHODS:  # a method added since (tanh, lr_noise) never had the old names
        out[old_torch_class(m)] = (f'{TORCH_MODULE}:{old_torch_class(m)}',
                                   f"composer_sched.ScheduleLR(optimizer, {m!r}, total_steps, ...)")
        out[old_functional_form(m)] = (f'{TORCH_MODULE}:{old_functional_form(m)}',
                                       f'composer_sched.{scheduler_class(m)}(...) or composer_scheduler({m!r}, ...)')
        old = _old_prefix(m)
        if old != class_name(m):
            new = scheduler_class(m)
            out[old + 'Scheduler'] = (f'{SCHEDULERS_MODULE}:{new}', f'composer_sched.{new}')
        if old != algorithm_class(m)[1]:
            out[old] = (':'.join(algorithm_class(m)), f'composer_sched.{algorithm_class(m)[1]}')
    return out


# The helpers' names before the scheme (code written against them keeps working; they name deprecated classes).
torch_class = old_torch_class
functional_form_name = old_functional_form
