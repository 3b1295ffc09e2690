"""Every name the naming scheme retired (issue 24) still works for one release, with a ``DeprecationWarning`` that
names the new spelling, and behaves exactly as the new one does.

The list below is written out by hand on purpose: a name can only be retired by adding it here.
"""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import torch

import composer_sched
from composer_sched.schedules.registry import get_method

#: Every retired top-level name that is not per method, and what replaces it.
FIXED = {
    'FlatSchedule': 'ConstantSchedule',
    'StepwiseSchedule': 'PiecewiseConstantSchedule',
    'LinearWarmup': 'Warmup',
    'LinearCooldown': 'Cooldown',
    'torch_scheduler': 'ScheduleLR',
    'CyclicLrScheduler': 'CyclicLRScheduler',
    'CyclicLr': 'CyclicLRAlgorithm',
}
#: Per registered method: the PyTorch class (WSDLR; cyclic_lr's was CyclicLrLR) and the functional form.
# The methods of the release before the scheme: only these ever had a torch class and a functional form (a method
# added since, tanh or lr_noise, gets no deprecated name it never had).
RELEASED = ['constant', 'cosine_annealing', 'cyclic_lr', 'cyclical', 'exponential', 'inverse_sqrt', 'linear',
            'multi_factor', 'multi_step', 'one_cycle', 'piecewise_constant', 'polynomial', 'sgdr', 'step', 'triangular',
            'wsd']
OLD_TORCH = {m: ('CyclicLr' if m == 'cyclic_lr' else composer_sched.schedules.registry.class_name(m)) + 'LR'
             for m in RELEASED}
OLD_FORMS = {m: f'{m}_scheduler' for m in RELEASED}
#: The old names importable from submodules: (module, name, what the warning must name).
SUBMODULE = [
    ('composer_sched.schedules', 'FlatSchedule', 'ConstantSchedule'),
    ('composer_sched.schedules', 'StepwiseSchedule', 'PiecewiseConstantSchedule'),
    ('composer_sched.schedules.constant', 'FlatSchedule', 'ConstantSchedule'),
    ('composer_sched.schedules.piecewise', 'StepwiseSchedule', 'PiecewiseConstantSchedule'),
    ('composer_sched.algorithms', 'LinearWarmup', 'Warmup'),
    ('composer_sched.algorithms', 'LinearCooldown', 'Cooldown'),
    ('composer_sched.algorithms', 'wsd_scheduler', 'WSDScheduler'),
    ('composer_sched.algorithms', 'CyclicLr', 'CyclicLRAlgorithm'),
    ('composer_sched.algorithms.setters', 'wsd_scheduler', 'WSDScheduler'),
    ('composer_sched.algorithms.setters', 'CyclicLr', 'CyclicLRAlgorithm'),
    ('composer_sched.adapters.schedulers', 'CyclicLrScheduler', 'CyclicLRScheduler'),
    ('composer_sched.algorithms.linear_warmup', 'LinearWarmup', 'Warmup'),
    ('composer_sched.algorithms.linear_warmup', 'linear_warmup', 'warmup'),
    ('composer_sched.algorithms.linear_cooldown', 'LinearCooldown', 'Cooldown'),
    ('composer_sched.algorithms.linear_cooldown', 'linear_cooldown', 'cooldown'),
    ('composer_sched.adapters.torch_schedulers', 'WSDLR', 'ScheduleLR'),
    ('composer_sched.adapters.torch_schedulers', 'TORCH_CLASSES', 'ScheduleLR'),
    ('composer_sched.adapters.torch_schedulers', 'torch_scheduler', 'ScheduleLR'),
]
#: Old recipe / entry-point algorithm keys.
OLD_KEYS = {'linear_warmup': 'warmup', 'linear_cooldown': 'cooldown'}


def _old(module: str, name: str, new: str):
    with pytest.warns(DeprecationWarning, match=rf'{name} is deprecated.*use .*{new}') as caught:
        value = getattr(importlib.import_module(module), name)
    assert len(caught) == 1, [str(w.message) for w in caught]  # one warning, not one per layer it passed
    return value


def _opt():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def test_the_list_here_is_every_deprecated_name_and_none_is_public():
    listed = set(FIXED) | set(OLD_TORCH.values()) | set(OLD_FORMS.values())
    assert listed == set(composer_sched.DEPRECATED)
    assert not listed & set(composer_sched.__all__)
    assert all(new in composer_sched.__all__ for new in FIXED.values())


@pytest.mark.parametrize('old,new', sorted(FIXED.items()))
def test_each_old_top_level_name_warns_naming_the_new_one(old, new):
    value = _old('composer_sched', old, new)
    if old in ('FlatSchedule', 'StepwiseSchedule', 'LinearCooldown', 'CyclicLrScheduler', 'CyclicLr'):
        assert value is getattr(composer_sched, new)  # a rename: the very same class
    assert not [n for n in dir(composer_sched) if n == old] or old in composer_sched.DEPRECATED


def test_renamed_core_classes_and_modifiers_behave_as_the_new_ones():
    flat = _old('composer_sched', 'FlatSchedule', 'ConstantSchedule')
    assert flat(0.5)(7.0) == composer_sched.ConstantSchedule(0.5)(7.0) == 0.5
    step = _old('composer_sched', 'StepwiseSchedule', 'PiecewiseConstantSchedule')
    assert step([4, 8], [0.5, 0.1])(9) == pytest.approx(0.05)
    preview = composer_sched.preview
    old = _old('composer_sched', 'LinearWarmup', 'Warmup')(t_warmup='6ba', warmup_type='exponential',
                                                          alpha_warmup=0.1)
    new = composer_sched.Warmup(t_warmup='6ba', shape='exp', alpha_warmup=0.1)
    base = composer_sched.CosineAnnealingScheduler()
    np.testing.assert_array_equal(preview(base, '10ba', algorithms=[old]), preview(base, '10ba', algorithms=[new]))
    assert repr(old) == "LinearWarmup(t_warmup='6ba', warmup_type='exponential', alpha_warmup=0.1, scale_warmup=False)"
    cool = _old('composer_sched', 'LinearCooldown', 'Cooldown')(t_start='5ba', shape='sqrt')
    np.testing.assert_array_equal(preview(base, '10ba', algorithms=[cool]),
                                  preview(base, '10ba', algorithms=[composer_sched.Cooldown(t_start='5ba',
                                                                                            shape='sqrt')]))
    fn = _old('composer_sched.algorithms.linear_warmup', 'linear_warmup', 'warmup')
    from composer_sched.algorithms.warmup import warmup
    np.testing.assert_array_equal(preview(fn(base, t_warmup='3ba', warmup_type='exponential', alpha_warmup=0.2),
                                          '8ba'),
                                  preview(warmup(base, t_warmup='3ba', shape='exp', alpha_warmup=0.2), '8ba'))


@pytest.mark.parametrize('method', RELEASED)
def test_per_method_torch_class_and_functional_form_behave_as_the_new_faces(method):
    ex = get_method(method).example
    old_cls = _old('composer_sched', OLD_TORCH[method], 'ScheduleLR')
    old, new = old_cls(_opt(), 60, steps_per_epoch=10, **ex), composer_sched.ScheduleLR(_opt(), method, 60,
                                                                                         steps_per_epoch=10, **ex)
    assert isinstance(old, composer_sched.ScheduleLR) and old.method_name == method
    assert [old.multiplier(k) for k in range(60)] == [new.multiplier(k) for k in range(60)]
    form = _old('composer_sched', OLD_FORMS[method], composer_sched.adapters.names.scheduler_class(method))
    assert form(**ex) == composer_sched.composer_scheduler(method, **ex)


def test_torch_scheduler_and_torch_classes_still_build_by_name():
    ts = _old('composer_sched', 'torch_scheduler', 'ScheduleLR')
    old = ts(_opt(), 'wsd', 100, t_cooldown='0.3dur')
    new = composer_sched.ScheduleLR(_opt(), 'wsd', 100, t_cooldown='0.3dur')
    assert [old.multiplier(k) for k in range(100)] == [new.multiplier(k) for k in range(100)]
    classes = _old('composer_sched.adapters.torch_schedulers', 'TORCH_CLASSES', 'ScheduleLR')
    assert sorted(classes) == RELEASED and classes['wsd'].__name__ == 'WSDLR'
    assert not {'TanhLR', 'LRNoiseLR', 'tanh_scheduler', 'lr_noise_scheduler'} & set(composer_sched.DEPRECATED)


@pytest.mark.parametrize('module,name,new', SUBMODULE)
def test_old_names_warn_from_every_module_they_were_importable_from(module, name, new):
    value = _old(module, name, new)
    assert value is not None


@pytest.mark.parametrize('old,new', sorted(OLD_KEYS.items()))
def test_old_algorithm_keys_warn_in_recipes_and_entry_points(old, new, tmp_path):
    from composer_sched.algorithms import DEPRECATED_ALGORITHMS, get_algorithm
    from composer_sched.recipes import load_recipe

    with pytest.warns(DeprecationWarning, match=rf"algorithm '{old}' is deprecated.*'{new}'"):
        cls = get_algorithm(old)
    assert issubclass(cls, get_algorithm(new))
    args = {'linear_warmup': "{t_warmup: 4ba, warmup_type: exponential, alpha_warmup: 0.1}",
            'linear_cooldown': '{t_start: 0.5dur, shape: sqrt}'}[old]
    new_args = {'linear_warmup': '{t_warmup: 4ba, shape: exp, alpha_warmup: 0.1}',
                'linear_cooldown': '{t_start: 0.5dur, shape: sqrt}'}[old]
    for key, text in ((old, args), (new, new_args)):
        (tmp_path / f'{key}.yaml').write_text(f'base: digits_cnn\nalgorithms:\n  {key}: {text}\n')
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated"):
        before = load_recipe(str(tmp_path / f'{old}.yaml')).preview()
    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        after = load_recipe(str(tmp_path / f'{new}.yaml')).preview()
    np.testing.assert_array_equal(before, after)
    # The entry point llm-foundry loads (setup.cfg's `old = module:Class`, loaded as getattr(module, Class)) warns
    # too, and gives the same class.
    module, _, attr = DEPRECATED_ALGORITHMS[old][0].partition(':')
    with pytest.warns(DeprecationWarning, match=new.capitalize()):
        assert getattr(importlib.import_module(module), attr) is cls
