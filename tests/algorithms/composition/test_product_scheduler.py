"""One rule for several schedulers: they multiply. ProductScheduler trains with the product in Composer's own
Trainer, where a plain ``schedulers=[a, b]`` lets the last one decide (each compiled LambdaLR sets the LR)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from composer.core import Time
from composer.optim import CosineAnnealingScheduler, MultiStepScheduler

from composer_sched import SGDRScheduler, WSDScheduler
from composer_sched.adapters.durations import ReplayState
from composer_sched.adapters.product import ProductScheduler
from composer_sched.previewing import preview, simulate
from tests.helpers import tiny_trainer

DL_LEN = 8  # tiny_data: 64 samples in batches of 8


def _pair():
    # One of Composer's built-ins (evaluated batch by batch) and one of ours, moving at different times.
    return MultiStepScheduler(milestones=['5ba', '1ep'], gamma=0.5), SGDRScheduler(t_0='6ba', alpha_f=0.1)


@pytest.mark.slow  # a real Trainer run (tiny)
@pytest.mark.parametrize('ssr', [1.0, 0.5])
def test_product_scheduler_trains_with_the_product_at_every_batch(ssr):
    a, b = _pair()
    trainer, rec = tiny_trainer(ProductScheduler(a, b), max_duration='3ep', scale_schedule_ratio=ssr)
    trainer.fit()
    lrs = np.array(rec.first_group())
    # Each factor previewed alone, then multiplied: an independent product, batch by batch.
    alone = preview(a, '3ep', dataloader_len=DL_LEN, ssr=ssr) * preview(b, '3ep', dataloader_len=DL_LEN, ssr=ssr)
    assert len(lrs) == int(3 * ssr) * DL_LEN
    np.testing.assert_allclose(lrs, alone, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lrs, preview([a, b], '3ep', dataloader_len=DL_LEN, ssr=ssr), rtol=1e-12, atol=1e-15)
    assert len(set(np.round(lrs, 9))) > 4  # both factors moved the LR


@pytest.mark.slow  # a real Trainer run (tiny)
def test_plain_list_in_composers_trainer_lets_the_last_scheduler_decide():
    a, b = _pair()
    trainer, rec = tiny_trainer([a, b], max_duration='3ep')
    trainer.fit()
    lrs = np.array(rec.first_group())
    np.testing.assert_allclose(lrs, preview(b, '3ep', dataloader_len=DL_LEN), rtol=1e-12)
    product = preview([a, b], '3ep', dataloader_len=DL_LEN)
    assert np.abs(lrs - product).max() > 0.1  # what ProductScheduler(a, b) would have trained with


def test_vectorised_preview_and_the_replay_agree_on_a_product():
    # Only composer_sched schedulers: preview opens the product and evaluates arrays; simulate replays batches.
    sched = ProductScheduler(WSDScheduler(t_cooldown='0.3dur', t_warmup='3ba'),
                             ProductScheduler(SGDRScheduler(t_0='7ba', t_mult=2.0)))
    fast = preview(sched, '40ba', ssr=0.75)
    slow = simulate([], [sched], '40ba', ssr=0.75)[:, 0]
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)
    assert fast.min() < 0.5


def test_factors_called_with_ssr_when_they_take_it():
    seen = []
    sched = ProductScheduler(lambda state, ssr=1.0: seen.append(ssr) or 0.5, lambda state: 0.5)
    state = ReplayState(Time.from_timestring('10ba'))
    assert sched(state) == 0.25 and seen == [1.0]
    with pytest.raises(ValueError, match=r'scheduler 1 .* takes only \(state\).*scale_schedule_ratio=0.5'):
        sched(state, 0.5)
    assert ProductScheduler(lambda state, ssr=1.0: ssr)(state, 0.5) == 0.5


@pytest.mark.parametrize('bad,match', [
    (WSDScheduler, r'scheduler 1 .* is a class, not a scheduler: pass an instance, e\.g\. WSDScheduler'),
    (0.5, r'scheduler 1 \(0\.5\) is not allowed: each factor must be a Composer scheduler'),
    (lambda: 1.0, r'scheduler 1 .* is called as fn\(state\) or fn\(state, ssr\)'),
    ('torch', r'scheduler 1 .* is a PyTorch scheduler'),
])
def test_bad_factor_is_named_at_construction(bad, match):
    if bad == 'torch':
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        bad = torch.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.raises(ValueError, match=match):
        ProductScheduler(CosineAnnealingScheduler(), bad)


def test_empty_and_repr():
    with pytest.raises(ValueError, match='give at least one Composer scheduler'):
        ProductScheduler()
    s = ProductScheduler(WSDScheduler(t_cooldown='0.3dur'), SGDRScheduler(t_0='6ba'))
    assert repr(s) == "ProductScheduler(WSDScheduler(t_cooldown='0.3dur'), SGDRScheduler(t_0='6ba'))"
