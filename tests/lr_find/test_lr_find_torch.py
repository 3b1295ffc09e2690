"""lr_find on plain PyTorch: exact restore, early stop, validation, and least squares where the answer is known.

Least squares :math:`F(w) = \\frac1n\\|Xw - y\\|^2` has Hessian :math:`H = 2X^\\top X/n`; gradient descent diverges
for :math:`\\eta > 2/\\lambda_{max}(H)`. The problems below are built with :math:`\\lambda_{max} = 1` (eigenvalues
log-spaced down to 0.1), so the divergence LR is 2, and trained by minibatch SGD.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import composer_sched
from composer_sched.lr_find import LRFindResult, lr_find, ramp

DIVERGENCE_LR = 2.0  # 2 / lambda_max


def least_squares(seed: int, n: int = 256, d: int = 10, batch: int = 32):
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(n, d, generator=g))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    lams = torch.logspace(0, -1, d)  # Hessian eigenvalues 1 .. 0.1
    x = u @ torch.diag(torch.sqrt(lams * n / 2)) @ v.T
    y = x @ torch.randn(d, generator=g) + 0.1 * torch.randn(n, generator=g)
    lam_max = torch.linalg.eigvalsh(2 * x.T @ x / n).max().item()
    assert lam_max == pytest.approx(1.0, rel=1e-4)
    return [(x[i:i + batch], y[i:i + batch, None]) for i in range(0, n, batch)]


def model_and_opt(seed=0, cls=torch.optim.SGD, **kw):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 1))
    return model, cls(model.parameters(), **kw)


def test_ramp_ends_and_shapes():
    r = ramp(1e-4, 1.0, 5)
    assert r[0] == 1e-4 and r[-1] == 1.0
    np.testing.assert_allclose(np.diff(np.log10(r)), 1.0)
    np.testing.assert_allclose(ramp(0.1, 0.5, 5, 'linear'), [0.1, 0.2, 0.3, 0.4, 0.5])


def test_model_optimizer_and_rng_restored_bit_for_bit():
    data = least_squares(0)
    model, opt = model_and_opt(cls=torch.optim.Adam, lr=1e-3, betas=(0.8, 0.9))
    # some history the test must not disturb: Adam moments, a gradient, eval mode on one module
    for x, y in data[:3]:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    model[1].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()} for k, s in
                 enumerate(opt.state.values())}
    groups = [{k: v for k, v in g.items() if k != 'params'} for g in opt.param_groups]
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected_draws = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(5), np.random.seed(5), torch.manual_seed(5)

    res = lr_find(model, opt, torch.nn.functional.mse_loss, data, min_lr=1e-4, max_lr=100, num_batches=40)

    assert len(res.lrs) > 5
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # parameters and BatchNorm buffers
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert model[1].training is False and model[0].training is True
    assert [{k: v for k, v in g.items() if k != 'params'} for g in opt.param_groups] == groups
    for k, s in enumerate(opt.state.values()):
        for n, t in s.items():
            assert torch.equal(t, opt_state[k][n]) if torch.is_tensor(t) else t == opt_state[k][n]
    draws = (random.random(), np.random.rand(), torch.rand(3))
    assert draws[0] == expected_draws[0] and draws[1] == expected_draws[1] and torch.equal(draws[2],
                                                                                          expected_draws[2])
    # and the next training step is the one it would have been
    x, y = data[0]
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()


def test_stops_early_at_divergence_and_records_every_batch():
    data = least_squares(1)
    model, opt = model_and_opt(lr=0.1)
    res = lr_find(model, opt, torch.nn.functional.mse_loss, data, min_lr=1e-3, max_lr=1e3, num_batches=100)
    assert res.stopped_early and len(res.lrs) < 100
    np.testing.assert_allclose(res.lrs, ramp(1e-3, 1e3, 100)[:len(res.lrs)])
    last = res.smoothed[-1]
    assert not np.isfinite(last) or last > 4 * np.nanmin(res.smoothed[:-1])
    assert np.all(res.smoothed[:-1] <= 4 * np.minimum.accumulate(res.smoothed[:-1]) + 1e-12)
    full = lr_find(model, opt, torch.nn.functional.mse_loss, data, min_lr=1e-3, max_lr=0.1, num_batches=30,
                   stop_factor=None)
    assert len(full.lrs) == 30 and not full.stopped_early
    assert isinstance(composer_sched.lr_find(model, opt, torch.nn.functional.mse_loss, data, num_batches=3),
                      LRFindResult)  # the package is callable too


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_least_squares_suggestions_below_the_divergence_lr(seed):
    """Documented ranges (method card): on SGD least squares with divergence LR 2/lambda_max = 2,
    fastai's valley, minimum and steep and Lightning's rule are below it, the GP minimum is within a factor 2 of
    it (0.5x .. 1.5x: the loss bottoms out at the edge of stability) and the peak (half of it, or where the loss
    floor starts if lower) is in 0.05x .. 0.5x of it."""
    data = least_squares(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(10, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = lr_find(model, opt, torch.nn.functional.mse_loss, data, min_lr=1e-3, max_lr=100, num_batches=100)
    assert res.stopped_early  # it does diverge within the ramp
    for rule in ('valley', 'minimum', 'steep', 'lightning'):
        assert 0 < res[rule] < DIVERGENCE_LR, rule
    assert 0.5 * DIVERGENCE_LR <= res['gp_minimum'] <= 1.5 * DIVERGENCE_LR
    assert 0.05 * DIVERGENCE_LR <= res['peak'] <= 0.5 * DIVERGENCE_LR
    assert res.gp.flat_low <= res['gp_minimum']
    assert res.gp.low <= res['gp_minimum'] <= res.gp.high and res.gp.p_past > 0.95


def test_bad_input_is_named_before_training():
    model, opt = model_and_opt(lr=0.1)
    data = least_squares(0)
    mse = torch.nn.functional.mse_loss
    w0 = model[0].weight.clone()
    cases = [(dict(min_lr=0), 'min_lr=0'), (dict(min_lr=1.0, max_lr=0.5), 'max_lr=0.5'),
             (dict(max_lr=1e300), 'max_lr=1e\\+300'), (dict(num_batches=1), 'num_batches=1'),
             (dict(mode='cosine'), "mode='cosine'"),
             (dict(stop_factor=1.0), 'stop_factor=1.0'), (dict(beta=1.0), 'beta=1.0'),
             (dict(peak_divisor=0.5), 'peak_divisor=0.5')]
    for kw, text in cases:
        with pytest.raises(ValueError, match=text.replace('(', r'\(')):
            lr_find(model, opt, mse, data, **kw)
    with pytest.raises(ValueError, match='loss_fn=None'):
        lr_find(model, opt, None, data)
    with pytest.raises(ValueError, match='dataloader is empty'):
        lr_find(model, opt, mse, [])
    with pytest.raises(ValueError, match='batches must be \\(input, target\\) pairs'):
        lr_find(model, opt, mse, [{'x': data[0][0]}])
    with pytest.raises(ValueError, match='target=3'):
        lr_find(3)
    assert torch.equal(model[0].weight, w0)  # a failure mid-test still puts the model back
