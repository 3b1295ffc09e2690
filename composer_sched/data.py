"""Bundled data: scikit-learn's digits (1,797 8x8 images, 10 classes), shipped inside scikit-learn, so nothing is
downloaded. The default model and data of the demo, the default recipe and the ratio sweep."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = ['digits_datasets', 'digits_dataloaders']


def digits_datasets(val_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Train and validation splits of the digits, as ``(N, 1, 8, 8)`` float tensors in ``[0, 1]`` and labels.

    The split is a fixed permutation drawn from ``seed``, so the same seed always gives the same split.

    Raises:
        ValueError: ``val_fraction`` outside ``(0, 1)``.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction={val_fraction!r} is not allowed: val_fraction must be in (0, 1).')
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(len(y) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


def digits_dataloaders(batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0,
                       eval_batch_size: Optional[int] = None, drop_last: bool = True) -> tuple[DataLoader, DataLoader]:
    """Train and validation dataloaders over :func:`digits_datasets`; the train order is shuffled from ``seed``.

    Under ``torch.distributed`` the train set is split across ranks with Composer's distributed sampler.
    """
    from composer.utils import dist

    train, val = digits_datasets(val_fraction, seed)
    sampler = dist.get_sampler(train, shuffle=True, drop_last=drop_last, seed=seed)
    train_dl = DataLoader(train, batch_size=batch_size, sampler=sampler, drop_last=drop_last)
    val_sampler = dist.get_sampler(val, shuffle=False, drop_last=False)
    val_dl = DataLoader(val, batch_size=eval_batch_size or batch_size, sampler=val_sampler)
    return train_dl, val_dl
