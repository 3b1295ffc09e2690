"""The naming scheme (CONTRIBUTING.md, "Names"): at most four public names per method, none of them a PyTorch
scheduler's name, no two public names that differ only by case, and names spelt as their registry names."""
from __future__ import annotations

import inspect

import pytest

import composer_sched
import composer_sched.schedules as core
from composer_sched.adapters import names
from composer_sched.schedules.registry import class_name, method_names


def _public() -> set[str]:
    return set(composer_sched.__all__) | set(core.__all__)


def test_torch_scheduler_names_are_torchs_own():
    import torch.optim.lr_scheduler as torch_schedulers

    found = {n for n, obj in vars(torch_schedulers).items()
             if inspect.isclass(obj) and obj.__module__ == torch_schedulers.__name__ and not n.startswith('_')
             and issubclass(obj, (torch_schedulers.LRScheduler, torch_schedulers.ReduceLROnPlateau))}
    found |= {'ChainedScheduler', 'SequentialLR'}
    assert found <= names.TORCH_SCHEDULER_NAMES, found - names.TORCH_SCHEDULER_NAMES


def test_no_public_name_is_a_pytorch_schedulers_name():
    assert not set(composer_sched.__all__) & names.TORCH_SCHEDULER_NAMES


def test_no_two_public_names_differ_only_by_case():
    # The top level (composer_sched.schedules also exports the definition API's Param / param pair, a class and
    # its declarator, as dataclasses' Field / field).
    by_lower: dict[str, set[str]] = {}
    for n in composer_sched.__all__:
        by_lower.setdefault(n.lower(), set()).add(n)
    assert [v for v in by_lower.values() if len(v) > 1] == []


@pytest.mark.parametrize('method', method_names())
def test_at_most_four_public_names_per_method_spelt_as_its_registry_name(method):
    prefix = class_name(method)
    assert prefix.lower().replace('_', '') == method.replace('_', '')  # CamelCase of the registry name
    candidates = {prefix + s for s in ('', 'Algorithm', 'Config', 'Scheduler', 'Schedule', 'LR')} | {
        f'{method}_scheduler'}
    mine = sorted(_public() & candidates)
    assert len(mine) <= 4, mine
    assert f'{prefix}Scheduler' in mine and names.algorithm_class(method)[1] in mine
    assert f'{prefix}LR' not in mine and f'{method}_scheduler' not in mine  # the PyTorch face is ScheduleLR


def test_cyclic_lr_is_spelt_cyclic_lr_everywhere_and_its_algorithm_does_not_take_torchs_name():
    assert not [n for n in _public() if 'CyclicLr' in n]
    assert {'CyclicLRSchedule', 'CyclicLRConfig', 'CyclicLRScheduler', 'CyclicLRAlgorithm'} <= _public()
    assert 'CyclicLR' not in composer_sched.__all__


def test_the_seeds_names_stay():
    from composer_sched import theory
    for name in ('LinearWarmUp', 'LinearCoolDown', 'TriangularSchedule', 'CosineAnnealingSchedule',
                 'CyclicalSchedule', 'OneCycleSchedule', 'MultiFactorSchedule', 'ScaleSchedule', 'scale_scheduler',
                 'AutoWU'):
        assert name in composer_sched.__all__, name
    for name in ('WSDSchedule', 'CosineSchedule', 'ConstantSchedule', 'SqrtSchedule', 'compute_rate',
                 'compute_optimal_base'):
        assert name in theory.__all__, name
