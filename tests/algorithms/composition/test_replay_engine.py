"""The one replay engine (previewing.simulate, behind preview) against a real Composer Trainer on mixed runs:
schedule algorithms over Composer and PyTorch schedulers, with and without a scale-schedule ratio."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from composer.optim import CosineAnnealingScheduler

from composer_sched import WSD, Cooldown, Warmup
from composer_sched.previewing import preview, simulate
from tests.helpers import tiny_model, tiny_trainer

DL_LEN = 8  # tiny_data: 64 samples in batches of 8
LR = 0.5


def _probe_opt():
    # The preview's PyTorch scheduler is built on its own optimizer with the run's LR (it is copied, not stepped).
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)


@pytest.mark.slow  # a real Trainer run (tiny)
def test_setter_modifier_and_a_pytorch_scheduler_it_replaces():
    algos = [Warmup(t_warmup='5ba', alpha_warmup=0.1), WSD(t_cooldown='0.4dur', replace=True)]
    opt = torch.optim.SGD(tiny_model().parameters(), lr=LR)
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)  # replaced by the setter: no effect
    t, rec = tiny_trainer(step, max_duration='3ep', optimizers=opt, algorithms=algos)
    t.fit()
    lrs = np.array(rec.first_group())
    expected = preview(torch.optim.lr_scheduler.StepLR(_probe_opt(), step_size=1, gamma=0.5), '3ep',
                       dataloader_len=DL_LEN, algorithms=algos)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    # By hand: the warm-up ramp over WSD's plateau, then WSD's linear cool-down to 0 over the last 40% (9.6 of 24
    # batches, from 14.4); the last batch trains with the value at batch 22.
    assert lrs[0] == pytest.approx(0.1 * LR) and lrs[6] == pytest.approx(LR)
    assert lrs[-1] == pytest.approx(LR * (1 - (22 - 14.4) / 9.6), rel=1e-12)


@pytest.mark.slow  # a real Trainer run (tiny)
@pytest.mark.parametrize('ssr', [1.0, 0.5])
def test_modifiers_over_a_composer_and_a_pytorch_scheduler_multiply(ssr):
    algos = [Cooldown(t_start='0.75dur', alpha_f=0.0), Warmup(t_warmup='4ba')]
    cosine = CosineAnnealingScheduler(alpha_f=0.2)  # Composer's own: replayed batch by batch

    def multistep(opt):
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[6, 14], gamma=0.5)  # stepped every batch

    opt = torch.optim.SGD(tiny_model().parameters(), lr=LR)
    t, rec = tiny_trainer([cosine, multistep(opt)], max_duration='4ep', optimizers=opt, algorithms=algos,
                          step_schedulers_every_batch=True, scale_schedule_ratio=ssr)
    t.fit()
    lrs = np.array(rec.first_group())
    got = simulate(algos, [cosine, multistep(_probe_opt())], '4ep', dataloader_len=DL_LEN, ssr=ssr,
                   step_schedulers_every_batch=True)[:, 0]
    assert len(lrs) == len(got) == int(4 * ssr) * DL_LEN
    np.testing.assert_allclose(lrs, got, rtol=1e-12, atol=1e-15)
    # The three factors multiply: after the warm-up and before the cool-down, the LR is LR * cosine * MultiStepLR.
    n = len(lrs)
    k = n // 2
    cos_k = preview(cosine, '4ep', dataloader_len=DL_LEN, ssr=ssr)[k]
    steps = int(6 * ssr), int(14 * ssr)  # the Trainer scales the milestones (int-truncated)
    drops = sum(k - 1 >= m for m in steps)  # batch k trains with the value after k - 1 steps
    assert lrs[k] == pytest.approx(LR * cos_k * 0.5 ** drops, rel=1e-12)
    # The cool-down starts from the LR it meets at s = 0.75 n (batch s + 1 trains with it) and reaches 0 at n; the
    # last batch trains with the value at n - 2.
    s = int(0.75 * n)
    assert lrs[-1] == pytest.approx(lrs[s + 1] * 2 / (n - s), rel=1e-12)


@pytest.mark.slow  # a real Trainer run (tiny)
def test_pytorch_scheduler_alone_scaled_by_the_trainer():
    # Without algorithms too: the Trainer steps it each epoch and scales it by the ratio (step_size 2 -> 1).
    opt = torch.optim.SGD(tiny_model().parameters(), lr=LR)
    t, rec = tiny_trainer(torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), max_duration='4ep',
                          optimizers=opt, scale_schedule_ratio=0.5)
    t.fit()
    expected = preview(torch.optim.lr_scheduler.StepLR(_probe_opt(), step_size=2, gamma=0.5), '4ep',
                       dataloader_len=DL_LEN, ssr=0.5)
    np.testing.assert_allclose(rec.first_group(), expected, rtol=1e-12)
    assert expected.tolist() == [LR] * DL_LEN + [LR / 2] * DL_LEN
