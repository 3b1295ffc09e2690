"""The plain-PyTorch recipe of docs/continuing.md: a finished ``ScheduleLR`` run continued with a new horizon by
``continuation_schedule``: continuous at the join, the longer schedule's whole decay resampled, and exact on resume."""
import numpy as np
import pytest
import torch

from composer_sched import ScheduleLR
from composer_sched.adapters.continuation import continuation_schedule, continue_method


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


@pytest.mark.parametrize('method,params', [('cosine_annealing', {'alpha_f': 0.1}),
                                           ('wsd', {'t_warmup': 5, 't_cooldown': '0.2dur'})])
def test_the_hf_trainer_and_lightning_resume_protocol_follows_the_continuation(tmp_path, method, params):
    """What HF ``Trainer`` (``optimizers=(opt, sched)``, ``resume_from_checkpoint``) and Lightning
    (``configure_optimizers``, ``fit(ckpt_path=...)``) do on resume, done here by hand with a real file: build the
    model, the optimizer and the scheduler first, then restore the three states; both then step the scheduler once
    per optimizer step (docs/continuing.md). With ``ScheduleLR(opt, continue_method(...))`` every new step has the
    continuation's LR; with the method rebuilt for the new horizon (what a user does without it) the LR jumps."""
    n, m, lr = 40, 80, 0.1
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)

    def train_step(model, opt, sched):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = ScheduleLR(opt, method, total_steps=n, **params)
    old = []
    for _ in range(n):
        old.append(opt.param_groups[0]['lr'])
        train_step(model, opt, sched)
    end = opt.param_groups[0]['lr']
    torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'scheduler': sched.state_dict()},
               tmp_path / 'final.pt')

    def resumed(make_scheduler):
        model2 = torch.nn.Linear(3, 1)
        opt2 = torch.optim.AdamW(model2.parameters(), lr=lr)
        sched2 = make_scheduler(opt2)
        state = torch.load(tmp_path / 'final.pt')
        model2.load_state_dict(state['model'])
        opt2.load_state_dict(state['optimizer'])
        sched2.load_state_dict(state['scheduler'])
        got = []
        for _ in range(n, m):
            got.append(opt2.param_groups[0]['lr'])
            train_step(model2, opt2, sched2)
        return got, sched2

    cont = continue_method(method, n, m, **params)
    got, sched2 = resumed(lambda o: ScheduleLR(o, cont))
    new, _ = _multipliers(method, m, **params)
    assert sched2.last_epoch == m and cont.join == n and cont.end == m - 1
    np.testing.assert_allclose([lr * cont(k) for k in range(n)], old, rtol=1e-12)  # the finished run as it was
    np.testing.assert_allclose(got, [lr * cont(k) for k in range(n, m)], rtol=1e-12)
    assert got[0] == pytest.approx(end)  # the first new step trains with the LR the run ended at
    assert cont.peak == pytest.approx(max(new)) and cont.rewarm == max(1, round(0.02 * (m - n)))
    assert max(np.abs(np.diff([old[-1]] + got))) <= max(abs(old[-1] - end), (cont.peak - cont.start) * lr
                                                         / cont.rewarm) * (1 + 1e-9)
    assert got[-1] == pytest.approx(lr * new[-1], rel=1e-6, abs=1e-12)  # the longer run's floor at the end
    # Without it: the method rebuilt for the new horizon and resumed at step n jumps from the end LR at once.
    naive, _ = resumed(lambda o: ScheduleLR(o, method, total_steps=m, **params))
    assert naive[0] - end > 0.3 * lr


def test_continue_method_refuses_a_budget_that_is_not_longer():
    for kwargs, name in (({'old_steps': 0, 'new_steps': 8}, 'old_steps'), ({'old_steps': 8, 'new_steps': 9},
                                                                            'new_steps')):
        with pytest.raises(ValueError, match=name):
            continue_method('cosine_annealing', **kwargs)
