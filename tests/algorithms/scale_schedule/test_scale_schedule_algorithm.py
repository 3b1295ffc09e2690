"""ScaleSchedule in a real Composer Trainer on the bundled digits: equal to Composer's own scale_schedule_ratio batch
for batch, resumable, applied once, and its budget methods."""
import functools
import math

import pytest
import torch
from composer import Trainer
from composer.core import Callback, Time, TimeUnit
from composer.optim import (
    ConstantWithWarmupScheduler,
    CosineAnnealingScheduler,
    CosineAnnealingWarmRestartsScheduler,
    CosineAnnealingWithWarmupScheduler,
    ExponentialScheduler,
    LinearWithWarmupScheduler,
    MultiStepScheduler,
    MultiStepWithWarmupScheduler,
    PolynomialScheduler,
    StepScheduler,
)
from torch.utils.data import DataLoader, TensorDataset

from composer_sched import ComposerScheduler, Cooldown, ScaleSchedule, ScheduleLR, WSDScheduler, preview
from composer_sched.adapters.compiled import unwrap_compiled
from composer_sched.algorithms import get_algorithm
from composer_sched.algorithms.roles import SetterAlgorithm
from composer_sched.algorithms.scale_schedule import scaled_duration
from composer_sched.data import digits_dataloaders, digits_datasets
from composer_sched.models import digits_cnn

BATCHES = 4  # batches per epoch (train_subset_num_batches): 4 ep = 16 batches


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny convolutions on 2 shared cores: extra threads only contend.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class LRs(Callback):
    """The LR each batch trains with (read at BEFORE_TRAIN_BATCH, after the Trainer has set it)."""

    def __init__(self):
        self.lrs = []

    def before_train_batch(self, state, logger):
        self.lrs.append(state.optimizers[0].param_groups[0]['lr'])


class Crash(Callback):
    """Simulates a crash after ``at`` batches."""

    def __init__(self, at):
        self.at = at

    def batch_end(self, state, logger):
        if state.timestamp.batch.value >= self.at:
            raise RuntimeError('simulated crash')


@functools.lru_cache(maxsize=None)
def digits_train():
    # One loader for the whole module: building it reloads the digits each time, and a Trainer only iterates it
    # (Composer sets the sampler's epoch at each epoch's start, so every run sees the same order). Batches of 8:
    # the LRs under test do not depend on the batch size, and smaller batches train faster.
    return digits_dataloaders(batch_size=8)[0]


def trainer(schedulers=None, algorithms=(), ssr=1.0, max_duration='4ep', torch_sched=None, data=None,
            subset=BATCHES, **kw):
    torch.manual_seed(0)
    model = digits_cnn(width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    if torch_sched is not None:
        schedulers = torch_sched(opt)
    rec = LRs()
    train = data if data is not None else digits_train()
    t = Trainer(model=model, train_dataloader=train, max_duration=max_duration, optimizers=opt, schedulers=schedulers,
                scale_schedule_ratio=ssr, algorithms=list(algorithms), callbacks=[rec, *kw.pop('callbacks', [])],
                device='cpu', seed=1, progress_bar=False, log_to_console=False, train_subset_num_batches=subset, **kw)
    return t, rec


def lrs_of(**kw):
    t, rec = trainer(**kw)
    t.fit()
    return rec.lrs, t.state.max_duration


BUILTINS = {
    'cosine_warmup': lambda: CosineAnnealingWithWarmupScheduler(t_warmup='3ba'),
    'multistep': lambda: MultiStepScheduler(milestones=['3ba', '2ep'], gamma=0.5),
    'linear_warmup': lambda: LinearWithWarmupScheduler(t_warmup='2ba', alpha_f=0.1),
    'exponential': lambda: ExponentialScheduler(gamma=0.8, decay_period='2ba'),
    'polynomial': lambda: PolynomialScheduler(power=2.0),
    'step': lambda: StepScheduler(step_size='5ba', gamma=0.5),
    'warm_restarts': lambda: CosineAnnealingWarmRestartsScheduler(t_0='1ep', t_mult=2.0),
    'multistep_warmup': lambda: MultiStepWithWarmupScheduler(t_warmup='2ba', milestones=['1ep', '3ep']),
    'constant_warmup': lambda: ConstantWithWarmupScheduler(t_warmup='2ba', alpha=0.5),
    'ours_wsd': lambda: WSDScheduler(t_warmup='2ba', t_cooldown='0.25dur'),
    'two': lambda: [CosineAnnealingScheduler(), ExponentialScheduler(gamma=0.9)],
}


CASES = [(name, r) for name in sorted(BUILTINS) for r in (0.5, 1.5)] + [
    ('cosine_warmup', 0.75), ('multistep', 0.75), ('ours_wsd', 0.75)]


@pytest.mark.parametrize('name, ratio', CASES)
def test_equals_composer_scale_schedule_ratio(name, ratio):
    # A stretched run (ratio 1.5: 6 ep) takes epochs of 2 batches, half the cost of this, the module's largest grid;
    # its milestones in batches and in epochs still fall inside the run, and it still takes more than 2 LR values
    # for all but 'step' (2: the halving at 7.5 ba).
    subset = 2 if ratio > 1 else BATCHES
    ours, md = lrs_of(schedulers=BUILTINS[name](), algorithms=[ScaleSchedule(ratio)], subset=subset)
    theirs, md_theirs = lrs_of(schedulers=BUILTINS[name](), ssr=ratio, subset=subset)
    assert md == md_theirs == Time(int(4 * ratio), TimeUnit.EPOCH)
    assert len(ours) == subset * int(4 * ratio)
    assert ours == theirs
    assert len(set(ours)) > 1  # the schedule actually varies, so the comparison means something


def test_warmup_is_not_scaled():
    half, _ = lrs_of(schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='4ba'), algorithms=[ScaleSchedule(0.5)])
    full, _ = lrs_of(schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='4ba'))
    # Batch k trains with the value at time k-1: the ramp covers batches 0..5 and peaks at batch 5 in both runs.
    assert half[:6] == full[:6] and half[5] == pytest.approx(0.1)
    assert half[-1] < full[len(half) - 1]  # after the warm-up the half run decays faster


def test_pytorch_scheduler_is_dilated():
    # StepLR stepped per epoch: step_size 2 over 4 ep, ratio 0.5 -> step_size 1 over 2 ep.
    ours, md = lrs_of(torch_sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
                      algorithms=[ScaleSchedule(0.5)])
    ref, _ = lrs_of(torch_sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
                    max_duration='2ep')
    assert md == Time(2, TimeUnit.EPOCH) and ours == ref and ours[-1] == pytest.approx(0.05)


TORCH_TRUNCATION = {  # counts whose scaled value is fractional: Composer truncates (rounding differed here)
    'step_3': (lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 0.5),          # 1.5 -> 1
    'multistep_5_11': (lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 11], gamma=0.5), 0.75),  # 3, 8
}


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(TORCH_TRUNCATION))
def test_pytorch_scheduler_equals_composer_scale_schedule_ratio(name):
    make, ratio = TORCH_TRUNCATION[name]
    kw = dict(step_schedulers_every_batch=True)
    ours, _ = lrs_of(torch_sched=make, algorithms=[ScaleSchedule(ratio)], **kw)
    theirs, _ = lrs_of(torch_sched=make, ssr=ratio, **kw)
    assert ours == theirs and len(set(ours)) > 2


def test_schedule_lr_is_dilated():
    kw = dict(step_schedulers_every_batch=True)
    ours, _ = lrs_of(torch_sched=lambda o: ScheduleLR(o, 'wsd', total_steps=4 * BATCHES, t_cooldown='0.5dur'),
                     algorithms=[ScaleSchedule(0.5)], **kw)
    ref, _ = lrs_of(torch_sched=lambda o: ScheduleLR(o, 'wsd', total_steps=2 * BATCHES, t_cooldown='0.5dur'),
                    max_duration='2ep', **kw)
    assert ours == ref and len(ours) == 2 * BATCHES and ours[-1] < 0.1


def test_max_duration_given_to_fit():
    t, rec = trainer(max_duration=None, algorithms=[ScaleSchedule(0.5)])
    t.fit(duration='4ep', schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='2ba'))
    r, rec_ref = trainer(max_duration=None)
    r.fit(duration='4ep', schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='2ba'), scale_schedule_ratio=0.5)
    assert t.state.max_duration == r.state.max_duration == Time(2, TimeUnit.EPOCH)
    assert rec.lrs == rec_ref.lrs and len(rec.lrs) == 2 * BATCHES


def test_second_fit_does_not_rescale():
    t, rec = trainer(schedulers=CosineAnnealingScheduler(t_max='8ep'), algorithms=[ScaleSchedule(0.5)])
    t.fit()
    t.fit(duration='1ep')
    r, rec_ref = trainer(schedulers=CosineAnnealingScheduler(t_max='8ep'), ssr=0.5)
    r.fit()
    r.fit(duration='1ep')  # Composer: a later fit() without a ratio does not scale either
    assert t.state.max_duration == r.state.max_duration == Time(3, TimeUnit.EPOCH)
    assert rec.lrs == rec_ref.lrs and len(rec.lrs) == 3 * BATCHES


def test_composes_with_trainer_scale_schedule_ratio():
    both, md = lrs_of(schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='2ba'), ssr=0.5,
                      algorithms=[ScaleSchedule(0.5)], max_duration='8ep')
    once, md_once = lrs_of(schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='2ba'), ssr=0.25, max_duration='8ep')
    assert md == md_once == Time(2, TimeUnit.EPOCH) and both == once


RESUMABLE = {
    'composer': dict(schedulers=None, sched=lambda: MultiStepWithWarmupScheduler(t_warmup='2ba',
                                                                                  milestones=['3ba', '6ba'])),
    'pytorch': dict(torch_sched=lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=6),
                    step_schedulers_every_batch=True),
    # Ours: its checkpoint holds the position only, so the dilation must come from ScaleSchedule again.
    'schedule_lr': dict(torch_sched=lambda o: ScheduleLR(o, 'wsd', total_steps=4 * BATCHES, t_warmup=2,
                                                         t_cooldown='0.5dur'),
                        step_schedulers_every_batch=True),
}


def _resumable(kind):
    kw = dict(RESUMABLE[kind])
    sched = kw.pop('sched', None)
    if sched is not None:
        kw['schedulers'] = sched()
    return kw


@pytest.mark.parametrize('kind', sorted(RESUMABLE))
def test_resume_from_load_path_follows_the_uninterrupted_run(kind, tmp_path):
    full, md = lrs_of(algorithms=[ScaleSchedule(0.5)], **_resumable(kind))
    t, rec = trainer(algorithms=[ScaleSchedule(0.5)], save_folder=str(tmp_path), save_interval='1ep',
                     callbacks=[Crash(at=BATCHES + 2)], **_resumable(kind))
    with pytest.raises(RuntimeError, match='simulated crash'):
        t.fit()
    ckpt = tmp_path / f'ep1-ba{BATCHES}-rank0.pt'
    assert ckpt.exists()
    r, resumed = trainer(algorithms=[ScaleSchedule(0.5)], load_path=str(ckpt), **_resumable(kind))
    r.fit()
    assert r.state.max_duration == md == Time(2, TimeUnit.EPOCH)
    assert resumed.lrs == full[BATCHES:] and len(set(full)) > 2


def test_autoresume_follows_the_uninterrupted_run(tmp_path):
    kw = dict(algorithms=[ScaleSchedule(0.5)], run_name='ss-auto', save_folder=str(tmp_path), save_interval='1ep',
              autoresume=True)
    full, _ = lrs_of(**_resumable('composer'), algorithms=[ScaleSchedule(0.5)])
    t, _ = trainer(**kw, **_resumable('composer'), callbacks=[Crash(at=BATCHES + 1)])
    with pytest.raises(RuntimeError, match='simulated crash'):
        t.fit()
    r, resumed = trainer(**kw, **_resumable('composer'))
    assert r.state.timestamp.batch.value == BATCHES  # it did resume
    r.fit()
    assert resumed.lrs == full[BATCHES:]


def test_samples_method_keeps_partial_epochs():
    # 40 samples in batches of 16 (16, 16, 8): 3 ep x 0.5 = 60 samples, where 'epochs' truncates to 1 ep = 40.
    x, y = digits_datasets()[0].tensors
    data = DataLoader(TensorDataset(x[:40], y[:40]), batch_size=16)
    t, rec = trainer(schedulers=CosineAnnealingScheduler(), algorithms=[ScaleSchedule(0.5, method='samples')],
                     max_duration='3ep', data=data, subset=-1)
    assert t.state.max_duration == Time(60, TimeUnit.SAMPLE)
    t.fit()
    assert t.state.timestamp.sample.value == 72  # 16+16+8, then 16 (56) and 16 more crosses 60
    # Batch k trains with the cosine over 60 samples at the sample count before batch k-1 (Composer's timing).
    seen = [0, 0, 16, 32, 40]
    assert rec.lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * s / 60)) for s in seen])
    e, _ = trainer(schedulers=CosineAnnealingScheduler(), algorithms=[ScaleSchedule(0.5)], max_duration='3ep',
                   data=data, subset=-1)
    assert e.state.max_duration == Time(1, TimeUnit.EPOCH)


def test_batches_method():
    t, rec = trainer(schedulers=CosineAnnealingScheduler(), algorithms=[ScaleSchedule(0.75, method='batches')],
                     max_duration='3ep')
    assert t.state.max_duration == Time(9, TimeUnit.BATCH)  # 12 batches x 0.75; 'epochs' would give 2 ep = 8
    t.fit()
    assert rec.lrs == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * max(k - 1, 0) / 9)) for k in range(9)])


def test_scaled_duration_methods_and_errors():
    assert scaled_duration('3ep', 0.5, 'samples', dataloader_len=3, samples_per_epoch=40, batch_size=16) == \
        Time(60, TimeUnit.SAMPLE)
    # 5 batches of an epoch of (16, 16, 8) hold 40 + 2 * 16 samples.
    assert scaled_duration('5ba', 1.0, 'samples', dataloader_len=3, samples_per_epoch=40, batch_size=16) == \
        Time(72, TimeUnit.SAMPLE)
    assert scaled_duration('72sp', 1.0, 'batches', dataloader_len=3, samples_per_epoch=40, batch_size=16) == \
        Time(5, TimeUnit.BATCH)
    assert scaled_duration('1000tok', 0.29, 'tokens') == Time(290, TimeUnit.TOKEN)  # not 289 from float error
    assert scaled_duration(10, 0.75) == Time(7, TimeUnit.EPOCH)
    with pytest.raises(ValueError, match=r"ratio=0\.5 reduces max_duration=1ep to 0ep"):
        scaled_duration('1ep', 0.5)
    with pytest.raises(ValueError, match="method='tokens' cannot convert max_duration=2ep"):
        scaled_duration('2ep', 0.5, 'tokens')
    with pytest.raises(ValueError, match="method='samples' needs samples_per_epoch"):
        scaled_duration('2ep', 0.5, 'samples')


@pytest.mark.parametrize('bad', [0, -0.5, math.inf, math.nan, '0.5', None, True])
def test_bad_ratio_at_construction(bad):
    with pytest.raises(ValueError, match=r'ratio=.* is not allowed'):
        ScaleSchedule(ratio=bad)


def test_bad_method_at_construction():
    with pytest.raises(ValueError, match=r"method='steps' is not allowed: method must be one of 'epochs'"):
        ScaleSchedule(0.5, method='steps')


def test_errors_surface_when_the_trainer_is_built():
    with pytest.raises(ValueError, match=r'ratio=0\.2 reduces max_duration=4ep to 0ep'):
        trainer(schedulers=CosineAnnealingScheduler(), algorithms=[ScaleSchedule(0.2)])
    with pytest.raises(ValueError, match=r'takes only \(state\)'):
        trainer(schedulers=lambda state: 1.0, algorithms=[ScaleSchedule(0.5)])


def test_registered_and_exported():
    import composer_sched
    assert get_algorithm('scale_schedule') is ScaleSchedule is composer_sched.ScaleSchedule
    assert ScaleSchedule.schedule_role == 'scale'
    assert repr(ScaleSchedule(0.5, 'samples')) == "ScaleSchedule(ratio=0.5, method='samples')"


class CosineSetter(SetterAlgorithm):
    """A schedule setter (issue 4's base): installs the registered 'cosine_annealing' method."""

    method = 'cosine_annealing'


@pytest.mark.parametrize('scale_first', [False, True])
def test_dilation_comes_after_a_setter_whatever_the_list_order(scale_first):
    algos = [CosineSetter(t_warmup='2ba'), ScaleSchedule(0.5)]
    composed, md = lrs_of(algorithms=algos[::-1] if scale_first else algos)
    theirs, md_theirs = lrs_of(schedulers=ComposerScheduler('cosine_annealing', t_warmup='2ba'), ssr=0.5)
    assert md == md_theirs == Time(2, TimeUnit.EPOCH)
    assert composed == pytest.approx(theirs, rel=1e-12) and len(set(composed)) > 2


def test_resume_with_max_duration_given_to_fit_does_not_rescale_restored_torch_schedulers(tmp_path):
    # StepLR(4) per batch over 4 ep -> step_size 2 over 2 ep. The resumed Trainer gets max_duration only in fit(),
    # so ScaleSchedule acts at FIT_START, after the checkpoint restored the scaled StepLR: it must not halve it again.
    step = dict(torch_sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
                step_schedulers_every_batch=True)
    full, _ = lrs_of(algorithms=[ScaleSchedule(0.5)], **step)
    t, _ = trainer(algorithms=[ScaleSchedule(0.5)], save_folder=str(tmp_path), save_interval='1ep',
                   callbacks=[Crash(at=BATCHES + 1)], **step)
    with pytest.raises(RuntimeError, match='simulated crash'):
        t.fit()
    r, resumed = trainer(algorithms=[ScaleSchedule(0.5)], max_duration=None,
                         load_path=str(tmp_path / f'ep1-ba{BATCHES}-rank0.pt'), **step)
    r.fit(duration=f'{3 * BATCHES}ba')  # 4 + 12 = 16 batches, scaled to 8: the uninterrupted run's budget
    assert r.state.max_duration == Time(2 * BATCHES, TimeUnit.BATCH)
    assert r.state.schedulers[0].step_size == 2
    assert resumed.lrs == full[BATCHES:] and full[-1] == pytest.approx(0.1 * 0.5 ** 3)


# -- one code path (issue 14): match() is pure, nothing is stamped on the schedulers, plain-type checkpoint state --

def test_match_is_pure_and_nothing_is_stamped_on_the_schedulers():
    from composer.core import Event
    algo = ScaleSchedule(0.5)
    t, _ = trainer(torch_sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2), algorithms=[algo])
    step = t.state.schedulers[0]
    fresh = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(digits_cnn(width=4).parameters(), lr=0.1), step_size=2)
    assert step.step_size == 1 and set(vars(step)) == set(vars(fresh))  # dilated, and no attribute of ours
    before = (algo.run.budget_scaled, list(algo.run.dilated), algo.run.restored, t.state.max_duration,
              dict(vars(step)))
    for event in Event:
        algo.match(event, t.state)
    assert (algo.run.budget_scaled, list(algo.run.dilated), algo.run.restored, t.state.max_duration,
            dict(vars(step))) == before
    assert algo.state_dict() == {'repr': 'ScaleSchedule(ratio=0.5, method=\'epochs\')', 'dilated': ['StepLR']}


def test_one_algorithm_object_scales_each_trainer_it_is_given():
    algo = ScaleSchedule(0.5)
    first, _ = trainer(schedulers=CosineAnnealingScheduler(), algorithms=[algo])
    second, _ = trainer(schedulers=CosineAnnealingScheduler(), algorithms=[algo])
    assert first.state.max_duration == second.state.max_duration == Time(2, TimeUnit.EPOCH)
    assert [unwrap_compiled(s).ssr for s in (first.state.schedulers[0], second.state.schedulers[0])] == [0.5, 0.5]


@pytest.mark.parametrize('scale_first', [False, True])
def test_composes_with_a_modifier_over_compiled_schedulers_whatever_the_list_order(scale_first):
    # The run's Composer scheduler, a cool-down modifier and the dilation: ScaleSchedule acts on the run itself in
    # either position, and the driver sees one ratio (0.5), not its square.
    algos = [Cooldown(t_start='6ba', alpha_f=0.1), ScaleSchedule(0.5)]
    ours, md = lrs_of(schedulers=CosineAnnealingScheduler(), algorithms=algos[::-1] if scale_first else algos)
    expected = preview(CosineAnnealingScheduler(), '4ep', dataloader_len=BATCHES, algorithms=algos) * 0.1
    assert md == Time(2, TimeUnit.EPOCH) and len(ours) == 2 * BATCHES
    assert ours == pytest.approx(list(expected), rel=1e-12) and len(set(ours)) > 2


@pytest.mark.slow
@pytest.mark.parametrize('scale_first', [False, True])
def test_resume_with_a_modifier_over_a_pytorch_scheduler(scale_first, tmp_path):
    # Either list position: the schedule driver checkpoints the dilated StepLR, the resumed run dilates a fresh one
    # again before the load, and the LRs follow the uninterrupted run's.
    def algos():
        pair = [Cooldown(t_start='5ba', alpha_f=0.2), ScaleSchedule(0.5)]
        return pair[::-1] if scale_first else pair

    step = dict(torch_sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
                step_schedulers_every_batch=True)
    full, md = lrs_of(algorithms=algos(), **step)
    t, _ = trainer(algorithms=algos(), save_folder=str(tmp_path), save_interval='1ep',
                   callbacks=[Crash(at=BATCHES + 1)], **step)
    with pytest.raises(RuntimeError, match='simulated crash'):
        t.fit()
    r, resumed = trainer(algorithms=algos(), load_path=str(tmp_path / f'ep1-ba{BATCHES}-rank0.pt'), **step)
    r.fit()
    assert md == r.state.max_duration == Time(2, TimeUnit.EPOCH) and len(full) == 2 * BATCHES
    assert resumed.lrs == full[BATCHES:] and len(set(full)) > 3
