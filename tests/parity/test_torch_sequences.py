"""torch's own expected LR sequences, for the shapes our PyTorch scheduler shares with torch's schedulers.

Values from pytorch/pytorch ``test/optim/test_lrscheduler.py`` (``TestLRScheduler``; read at commit 01f9ef32eae5,
torch 2.7 installed here), kept as torch wrote them: ``test_step_lr``, ``test_multi_step_lr``, ``test_exp_lr``,
``test_poly_lr``, ``test_cos_anneal_lr``, ``test_linearlr`` and ``test_CosineAnnealingWarmRestarts_lr1``. torch's
harness: SGD with two param groups (lr 0.05 and 0.5), the LR checked before each ``step()``; the second group's
targets are the first's times 10. torch's ``eta_min`` is an LR; ours is a multiplier, so ``alpha_f = eta_min / 0.05``.
"""
import math

import numpy as np
import pytest
import torch

from composer_sched import ScheduleLR


def _opt():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{'params': [a]}, {'params': [b], 'lr': 0.5}], lr=0.05)


def _run(method, steps, targets, **params):
    """torch's ``_test``: for each epoch, every group's LR equals its target, then ``step()``."""
    opt = _opt()
    sched = ScheduleLR(opt, method, total_steps=steps, **params)
    seen = []
    for _ in range(steps):
        seen.append([g['lr'] for g in opt.param_groups])
        opt.step()
        sched.step()
    np.testing.assert_allclose(np.array(seen).T, np.array(targets)[:, :steps], rtol=1e-7, atol=1e-9)


def test_step_lr():
    epochs = 10
    single_targets = [0.05] * 3 + [0.005] * 3 + [0.0005] * 3 + [0.00005] * 3
    targets = [single_targets, [x * epochs for x in single_targets]]
    _run('step', epochs, targets, step_size=3, gamma=0.1)  # StepLR(gamma=0.1, step_size=3)


def test_multi_step_lr():
    epochs = 10
    single_targets = [0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005] * 3
    targets = [single_targets, [x * epochs for x in single_targets]]
    _run('multi_step', epochs, targets, milestones=[2, 5, 9], gamma=0.1)  # MultiStepLR(gamma=0.1, milestones=[2, 5, 9])


def test_exp_lr():
    epochs = 10
    single_targets = [0.05 * (0.9 ** x) for x in range(epochs)]
    targets = [single_targets, [x * epochs for x in single_targets]]
    _run('exponential', epochs, targets, gamma=0.9, decay_period=1)  # ExponentialLR(gamma=0.9)


def test_poly_lr():
    epochs = 10
    power = 0.9
    total_iters = 5
    single_targets = [(1.0 - x / total_iters) ** power * 0.05 for x in range(total_iters)] + [0.0] * (
        epochs - total_iters)
    targets = [single_targets, [x * epochs for x in single_targets]]
    _run('polynomial', epochs, targets, power=power, t_max=total_iters)  # PolynomialLR(power=0.9, total_iters=5)


def test_cos_anneal_lr():
    epochs = 10
    eta_min = 1e-10
    single_targets = [eta_min + (0.05 - eta_min) * (1 + math.cos(math.pi * x / epochs)) / 2 for x in range(epochs)]
    targets = [single_targets, [x * epochs for x in single_targets]]
    # CosineAnnealingLR(T_max=epochs, eta_min=eta_min)
    _run('cosine_annealing', epochs, targets, t_max=epochs, alpha_f=eta_min / 0.05)


def test_linearlr():
    epochs = 10
    start_factor = 1.0 / 2
    iters = 4
    interpolation = [start_factor + i * (1 - start_factor) / iters for i in range(iters)]
    single_targets = [x * 0.05 for x in interpolation] + [0.05] * (epochs - iters)
    targets = [single_targets, [x * epochs for x in single_targets]]
    # LinearLR(start_factor=start_factor, total_iters=iters)
    _run('linear', epochs, targets, alpha_i=start_factor, alpha_f=1.0, t_max=iters)


@pytest.mark.parametrize('T_mult', [1, 2, 4])
def test_CosineAnnealingWarmRestarts_lr1(T_mult):
    iters = 100
    eta_min = 1e-10
    T_i = 10
    T_cur = 0
    targets = [[0.05], [0.5]]
    for _ in range(1, iters, 1):
        T_cur += 1
        if T_cur >= T_i:
            T_cur = T_cur - T_i
            T_i = int(T_mult) * T_i
        targets[0] += [eta_min + (0.05 - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2]
        targets[1] += [eta_min + (0.5 - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2]
    # CosineAnnealingWarmRestarts(T_0=10, T_mult=T_mult, eta_min=eta_min)
    _run('sgdr', iters, targets, t_0=10, t_mult=float(T_mult), alpha_f=eta_min / 0.05)
