"""Every schedule algorithm in a real Composer run: the LR applied equals ``preview`` of the composed schedule,
whatever the list order; conflicts and bad arguments are errors before the first batch."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from method_runs import BASE_LR, DL_LEN, MODIFIER_EXAMPLES, Run, example, make, schedule_algorithm_names

from composer_sched import ComposerScheduler
from composer_sched.algorithms import get_algorithm
from composer_sched.previewing import preview
from composer_sched.schedules import method_names


def test_examples_cover_the_registry():
    # Every registered method is a setter (its example is its definition's); the other schedule algorithms are the
    # modifiers, each with an example here.
    assert sorted(schedule_algorithm_names()) == sorted([*method_names(), *MODIFIER_EXAMPLES])


@pytest.mark.parametrize('name', schedule_algorithm_names())
def test_run_lr_equals_preview(name):
    # 2 epochs (22 batches): every example still moves its schedule there (each part of it: at least 5 distinct LRs
    # but the constant's warm-up) and crosses an epoch boundary; the 3-epoch runs are the tests below.
    algo = make(name)
    run = Run([algo], max_duration='2ep').fit()
    expected = preview([], '2ep', dataloader_len=DL_LEN, algorithms=[algo]) * BASE_LR
    assert len(run.lrs) == 2 * DL_LEN
    np.testing.assert_allclose(run.lrs, expected, rtol=1e-12, atol=1e-15)
    assert np.ptp(run.lrs) > 0.01 * BASE_LR  # the schedule really moved the LR


@pytest.mark.parametrize('name', [n for n in schedule_algorithm_names()
                                  if get_algorithm(n).schedule_role == 'setter'])
def test_setter_preview_equals_its_composer_scheduler(name):
    # Independent path: the adapter's scheduler through the foundation's preview (no algorithm code).
    params = {k: v for k, v in example(name).items() if k not in ('cycle_momentum',)}
    via_algo = preview([], '3ep', dataloader_len=DL_LEN, algorithms=[make(name)])
    via_sched = preview(ComposerScheduler(name, **params), '3ep', dataloader_len=DL_LEN)
    np.testing.assert_allclose(via_algo, via_sched, rtol=1e-12)


@pytest.mark.parametrize('name', schedule_algorithm_names())
def test_registered_class_is_exported_and_signature_is_plain(name):
    import composer_sched
    cls = get_algorithm(name)
    assert getattr(composer_sched, cls.__name__) is cls
    for p in inspect.signature(cls).parameters.values():
        assert p.default is inspect.Parameter.empty or isinstance(p.default, (str, int, float, bool, type(None)))


def _composition():
    from composer_sched import SGDR, Cooldown, Warmup
    return [Warmup(t_warmup='5ba', alpha_warmup=0.1), SGDR(t_0='6ba', t_mult=2.0, alpha_f=0.1),
            Cooldown(t_start='0.7dur', alpha_f=0.0)]


def test_warmup_sgdr_cooldown_any_order():
    algos = _composition()
    forward = Run(algos).fit().lrs
    backward = Run(list(reversed(_composition()))).fit().lrs
    expected = preview(None, '3ep', dataloader_len=DL_LEN, algorithms=algos) * BASE_LR
    np.testing.assert_allclose(forward, expected, rtol=1e-12)
    np.testing.assert_array_equal(forward, backward)
    # Each part shows: the ramp's start factor, the restart after t_0 (batch 7 trains with t=6), 0 at the end.
    assert forward[0] == pytest.approx(0.1 * BASE_LR) and forward[7] > forward[6]
    assert np.all(np.diff(forward[25:]) < 0) and forward[-1] < 0.25 * forward[24]  # the cool-down tail


def test_modifiers_over_trainer_composer_scheduler():
    from composer.optim import CosineAnnealingWithWarmupScheduler

    from composer_sched import Cooldown, Warmup
    algos = [Cooldown(t_start='20ba', t_cooldown='10ba', alpha_f=0.3), Warmup(t_warmup='4ba')]
    sched = CosineAnnealingWithWarmupScheduler(t_warmup='3ba', alpha_f=0.5)
    run = Run(algos, schedulers=sched).fit()
    expected = preview(sched, '3ep', dataloader_len=DL_LEN, algorithms=algos) * BASE_LR
    np.testing.assert_allclose(run.lrs, expected, rtol=1e-12)
    assert run.lrs[-1] == pytest.approx(0.3 * BASE_LR)


def test_warmup_over_pytorch_multistep_stepped_per_epoch():
    from composer_sched import Warmup
    algo = Warmup(t_warmup='15ba', shape='exp', alpha_warmup=0.01)
    run = Run([algo], schedulers=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [1, 2], gamma=0.5)).fit()
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    expected = preview(torch.optim.lr_scheduler.MultiStepLR(probe, [1, 2], gamma=0.5), '3ep',
                       dataloader_len=DL_LEN, algorithms=[algo])
    np.testing.assert_allclose(run.lrs, expected, rtol=1e-12)
    # MultiStepLR steps each epoch (Composer's default with a PyTorch scheduler): epoch 2 trains at 0.25 x base.
    assert run.lrs[-1] == pytest.approx(0.25 * BASE_LR)
    assert run.lrs[0] == pytest.approx(0.01 * BASE_LR)


def test_one_cycle_replaces_pytorch_multistep_and_cycles_momentum():
    from composer_sched import OneCycle
    algo = OneCycle(replace=True, cycle_momentum=True, base_momentum=0.8, max_momentum=0.95, alpha_start=0.1,
                    t_cycle='0.6dur', t_cooldown='0.4dur')
    run = Run([algo], schedulers=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [1], gamma=0.1)).fit()
    alone = preview(None, '3ep', dataloader_len=DL_LEN, algorithms=[algo])
    np.testing.assert_allclose(run.lrs, alone * BASE_LR, rtol=1e-12)
    np.testing.assert_allclose(run.momenta, [algo.momentum(a) for a in alone], rtol=1e-12)
    peak = int(np.argmax(run.lrs))
    assert run.momenta[0] == pytest.approx(0.95) and run.momenta[peak] == pytest.approx(0.8, abs=0.02)


def test_one_cycle_cycles_adam_beta1():
    from composer_sched import OneCycle
    algo = OneCycle(cycle_momentum=True)
    run = Run([algo], optimizer='adam', max_duration='2ep').fit()
    alpha = preview(None, '2ep', dataloader_len=DL_LEN, algorithms=[algo])
    np.testing.assert_allclose(run.momenta, [algo.momentum(a) for a in alpha], rtol=1e-12)
    assert min(run.momenta) < 0.9 < max(run.momenta)


@pytest.mark.parametrize('scale_first', [False, True])
def test_wsd_with_scale_schedule_half(scale_first):
    scale_mod = pytest.importorskip('composer_sched.algorithms.scale_schedule')
    from composer_sched import WSD
    algos = [WSD(t_warmup='4ba', t_cooldown='6ba'), scale_mod.ScaleSchedule(ratio=0.5)]
    run = Run(algos[::-1] if scale_first else algos, max_duration='4ep').fit()
    expected = preview(None, '4ep', dataloader_len=DL_LEN, algorithms=algos) * BASE_LR
    np.testing.assert_allclose(run.lrs, expected, rtol=1e-12)
    # Half the budget; the warm-up keeps its 4 batches, the absolute cool-down shrinks to 3: the same as the
    # Trainer's own scale_schedule_ratio applied to the equivalent Composer scheduler.
    assert len(run.lrs) == 2 * DL_LEN
    same = preview(ComposerScheduler('wsd', t_warmup='4ba', t_cooldown='6ba'), '4ep', dataloader_len=DL_LEN,
                   ssr=0.5) * BASE_LR
    np.testing.assert_allclose(run.lrs, same, rtol=1e-12)


def test_two_setters_are_an_error_before_training():
    from composer_sched import SGDR, WSD
    with pytest.raises(ValueError, match='two schedule setters'):
        Run([WSD(), SGDR()])
    with pytest.raises(ValueError, match='more than one setter'):
        Run([WSD(replace=True), SGDR(replace=True)])
    run = Run([SGDR(t_0='5ba'), WSD(replace=True, t_cooldown='0.5dur')]).fit()  # the replacing one wins
    np.testing.assert_allclose(run.lrs, preview(ComposerScheduler('wsd', t_cooldown='0.5dur'), '3ep',
                                                dataloader_len=DL_LEN) * BASE_LR, rtol=1e-12)


def test_setter_over_trainer_schedulers_needs_replace():
    from composer.optim import LinearScheduler

    from composer_sched import CosineAnnealing
    with pytest.raises(ValueError, match='replace=True'):
        Run([CosineAnnealing()], schedulers=LinearScheduler())


@pytest.mark.parametrize('name, kwargs, match', [
    ('wsd', dict(t_cooldown='soon'), 't_cooldown'),
    ('sgdr', dict(t_mult=-1.0), 't_mult'),
    ('one_cycle', dict(cycle_momentum=True, base_momentum=0.99, max_momentum=0.9), 'max_momentum'),
    ('warmup', dict(t_warmup='0ba'), 't_warmup'),
    ('warmup', dict(shape='cubic'), 'shape'),
    ('cooldown', dict(shape='cubic'), 'shape'),
    ('triangular', dict(replace='yes'), 'replace'),
])
def test_bad_arguments_at_construction(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_algorithm(name)(**kwargs)


def test_unknown_argument_names_it():
    # The classes have explicit signatures, and an unknown keyword is still the ValueError naming the closest valid
    # one, as for a name that comes from text (a recipe, composer_scheduler).
    with pytest.raises(ValueError, match="stepz.*did you mean 'step'"):
        get_algorithm('multi_factor')(stepz=['1ba'])
    from composer_sched import MultiFactorScheduler
    with pytest.raises(ValueError, match="stepz.*did you mean 'step'"):
        MultiFactorScheduler(stepz=['1ba'])
    from composer_sched import composer_scheduler
    with pytest.raises(ValueError, match="stepz.*did you mean 'step'"):
        composer_scheduler('multi_factor', stepz=['1ba'])


def test_durations_that_do_not_fit_fail_before_the_first_batch():
    from composer_sched import WSD, Cooldown
    with pytest.raises(ValueError, match='max_duration'):
        Run([Cooldown(t_start='40ba')])
    # A warm-up as long as the run is all warm-up (Composer's rule); a cool-down that cannot follow the warm-up
    # before the end of the run is still an error.
    with pytest.raises(ValueError, match='t_cooldown|cooldown_length'):
        Run([WSD(t_warmup='10ba', t_cooldown='0.9dur')])


def test_one_cycle_momentum_needs_a_momentum_optimizer():
    from composer_sched import OneCycle
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match='cycle_momentum'):
        OneCycle(cycle_momentum=True).check_optimizer(torch.optim.Adadelta(model.parameters()))


def test_docs_index_is_generated_from_the_registry(tmp_path):
    from composer_sched.docs import generate
    generate(tmp_path, plots=False)
    index = (tmp_path / 'index.md').read_text()
    for name in schedule_algorithm_names():
        cls = get_algorithm(name)
        assert f'[{name}]({name}.md)' in index and f'`{cls.__name__}`' in index
        page = (tmp_path / f'{name}.md').read_text()
        assert '## TL;DR' in page and 'BEFORE_LOAD' in page and f'({name}.png)' in page
        for p in inspect.signature(cls).parameters.values():
            assert p.kind == p.VAR_KEYWORD or f'`{p.name}`=' in index
