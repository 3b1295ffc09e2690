"""docs/continuing.md's HF ``Trainer`` and Lightning recipes, run for real: a finished ``ScheduleLR`` run saved by
the library's own checkpointing, resumed with a longer ``max_steps`` and ``continue_method``'s continuation as its
scheduler. The LR the library trains every optimizer step with, recorded by its own callback, must be the finished
run's schedule up to the join and the continuation after it (transformers 5.25, lightning 2.6: the ``peers``
extra, which ``make setup`` installs)."""
import numpy as np
import pytest
import torch

from composer_sched import ScheduleLR
from composer_sched.adapters.continuation import continue_method

N, M, LR = 12, 24, 0.1
METHOD, PARAMS = 'cosine_annealing', {'t_warmup': 3, 'alpha_f': 0.1}


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0])


def _expected():
    cont = continue_method(METHOD, N, M, **PARAMS)
    return cont, [LR * cont(k) for k in range(M)]


def _check(lrs, cont, expected):
    assert len(lrs) == M, f'{len(lrs)} optimizer steps recorded, {M} expected'
    np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)
    # The join: the first resumed step trains with the LR the finished run ended at, then the re-warm rises.
    assert lrs[N] == pytest.approx(LR * cont(N)) and lrs[N + 1] > lrs[N]
    # Rebuilding the method for the new horizon (what a naive resume does) would not: it jumps at the join.
    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    naive = ScheduleLR(probe, METHOD, total_steps=M, **PARAMS)
    for _ in range(N):
        probe.step()
        naive.step()
    assert abs(probe.param_groups[0]['lr'] - lrs[N]) > 0.2 * LR


def test_hf_trainer_resumes_a_finished_run_on_the_continuation(tmp_path):
    pytest.importorskip('transformers', reason='the peers extra (make setup installs it)')
    from transformers import Trainer, TrainerCallback, TrainingArguments

    x, y = _data()

    class Regression(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):
            out = self.lin(x).squeeze(-1)
            return {'loss': torch.nn.functional.mse_loss(out, labels), 'logits': out}

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return {'x': x[i], 'labels': y[i]}

    class RecordLR(TrainerCallback):
        def __init__(self):
            self.lrs = {}

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            self.lrs[state.global_step] = optimizer.param_groups[0]['lr']

    def trainer(steps, sched_for, record):
        torch.manual_seed(0)
        model = Regression()
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        # gradient accumulation: the scheduler is stepped per optimizer step, so N and M count optimizer steps
        args = TrainingArguments(output_dir=str(tmp_path / 'out'), max_steps=steps, per_device_train_batch_size=4,
                                 gradient_accumulation_steps=2, save_strategy='steps', save_steps=N,
                                 logging_strategy='no', report_to=[], use_cpu=True, seed=0,
                                 dataloader_num_workers=0, disable_tqdm=True)
        return Trainer(model=model, args=args, train_dataset=Rows(), optimizers=(opt, sched_for(opt)),
                       callbacks=[record])

    first = RecordLR()
    trainer(N, lambda opt: ScheduleLR(opt, METHOD, total_steps=N, **PARAMS), first).train()
    cont, expected = _expected()
    second = RecordLR()
    trainer(M, lambda opt: ScheduleLR(opt, cont), second).train(
        resume_from_checkpoint=str(tmp_path / 'out' / f'checkpoint-{N}'))
    assert sorted(first.lrs) == list(range(N)) and sorted(second.lrs) == list(range(N, M))
    _check([first.lrs[k] for k in range(N)] + [second.lrs[k] for k in range(N, M)], cont, expected)


def test_lightning_resumes_a_finished_run_on_the_continuation(tmp_path):
    lightning = pytest.importorskip('lightning', reason='the peers extra (make setup installs it)')

    x, y = _data()

    class Regression(lightning.LightningModule):
        def __init__(self, sched_for):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)
            self.sched_for = sched_for
            self.lrs = {}

        def on_train_batch_start(self, batch, batch_idx):
            self.lrs[self.trainer.global_step] = self.trainer.optimizers[0].param_groups[0]['lr']

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return torch.nn.functional.mse_loss(self.lin(xb).squeeze(-1), yb)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=LR)
            return {'optimizer': opt, 'lr_scheduler': {'scheduler': self.sched_for(opt), 'interval': 'step'}}

    def fit(steps, sched_for, ckpt_path=None):
        torch.manual_seed(0)
        model = Regression(sched_for)
        trainer = lightning.Trainer(max_steps=steps, accelerator='cpu', devices=1, logger=False,
                                    enable_checkpointing=False, enable_progress_bar=False,
                                    enable_model_summary=False, default_root_dir=str(tmp_path))
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
        trainer.fit(model, loader, ckpt_path=ckpt_path)
        return trainer, model

    trainer, first = fit(N, lambda opt: ScheduleLR(opt, METHOD, total_steps=N, **PARAMS))
    trainer.save_checkpoint(tmp_path / 'last.ckpt')
    cont, expected = _expected()
    _, second = fit(M, lambda opt: ScheduleLR(opt, cont), ckpt_path=str(tmp_path / 'last.ckpt'))
    assert sorted(first.lrs) == list(range(N)) and sorted(second.lrs) == list(range(N, M))
    _check([first.lrs[k] for k in range(N)] + [second.lrs[k] for k in range(N, M)], cont, expected)
