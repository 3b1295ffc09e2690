"""The plain-PyTorch recipe of docs/continuing.md: a finished ``ScheduleLR`` run continued with a new horizon by
``continuation_schedule``: continuous at the join, the end of the longer schedule's family, and exact on resume."""
import numpy as np
import pytest
import torch

from composer_sched import ScheduleLR
from composer_sched.adapters.continuation import continuation_schedule


def _multipliers(method, steps, **params):
    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = ScheduleLR(probe, method, total_steps=steps, **params)
    out = []
    for _ in range(steps):
        out.append(probe.param_groups[0]['lr'])
        probe.step()
        sched.step()
    return out, probe.param_groups[0]['lr']


@pytest.mark.parametrize('method,params', [('cosine_annealing', {'alpha_f': 0.1}),
                                           ('wsd', {'t_warmup': 5, 't_cooldown': '0.2dur'})])
def test_a_finished_schedule_lr_run_continues_with_a_new_horizon_and_resumes_exactly(method, params):
    n, m, lr = 40, 80, 0.1
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = ScheduleLR(opt, method, total_steps=n, **params)
    head = []
    for _ in range(n):
        head.append(opt.param_groups[0]['lr'] / lr)
        opt.step()
        sched.step()
    head.append(opt.param_groups[0]['lr'] / lr)
    new, _ = _multipliers(method, m, **params)
    cont = continuation_schedule(head, new, peak=0.5, rewarm=4)
    sched = ScheduleLR(opt, cont, last_epoch=n - 1)
    got = []
    for k in range(n, m):
        got.append(opt.param_groups[0]['lr'])
        if k == 60:
            saved = sched.state_dict()
        opt.step()
        sched.step()
    np.testing.assert_allclose(got, [lr * cont(k) for k in range(n, m)], rtol=1e-12)
    assert got[0] == pytest.approx(lr * head[-1])  # the first new step: the LR the run ended at
    assert max(np.abs(np.diff(got))) <= (0.5 - head[-1]) * lr / 4 * (1 + 1e-9)  # no jump beyond the re-warm's
    assert got[-1] == pytest.approx(lr * new[-1], rel=1e-6, abs=1e-12)  # the longer run's floor at the end
    # A resumed scheduler (its state_dict) follows the continuation exactly.
    again = ScheduleLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr), cont)
    again.load_state_dict(saved)
    again.step()  # the state was saved before step 60's step(): replay it
    assert again.get_last_lr()[0] == pytest.approx(got[61 - n], rel=1e-12)
