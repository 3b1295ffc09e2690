"""Small real-training helpers for tests: a tiny Composer classifier on generated data and an LR recorder."""
from __future__ import annotations

import torch
from composer import Trainer
from composer.core import Callback
from composer.models import ComposerClassifier
from torch.utils.data import DataLoader, TensorDataset


class LRRecorder(Callback):
    """Records every param group's LR at BEFORE_TRAIN_BATCH: the LR the batch actually trains with."""

    def __init__(self):
        self.lrs: list[list[float]] = []

    def before_train_batch(self, state, logger):
        self.lrs.append([g['lr'] for g in state.optimizers[0].param_groups])

    def first_group(self) -> list[float]:
        return [row[0] for row in self.lrs]


def tiny_data(n: int = 64, batch_size: int = 8, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def tiny_model(seed: int = 0) -> ComposerClassifier:
    torch.manual_seed(seed)
    return ComposerClassifier(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)),
                              num_classes=2)


def tiny_trainer(schedulers=None, max_duration='2ep', lr=1.0, callbacks=(), **kwargs) -> tuple[Trainer, LRRecorder]:
    model = tiny_model()
    rec = LRRecorder()
    opt = kwargs.pop('optimizers', None) or torch.optim.SGD(model.parameters(), lr=lr)
    trainer = Trainer(model=model, train_dataloader=kwargs.pop('train_dataloader', None) or tiny_data(),
                      max_duration=max_duration, optimizers=opt, schedulers=schedulers, device='cpu',
                      callbacks=[rec, *callbacks], progress_bar=False, log_to_console=False, loggers=[], seed=17,
                      **kwargs)
    return trainer, rec
