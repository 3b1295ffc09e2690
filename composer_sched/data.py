"""Data for the recipes.

* scikit-learn's digits (1,797 8x8 images, 10 classes), shipped inside scikit-learn, so nothing is downloaded: the
  default model and data of the demo, the default recipe and the ratio sweep.
* CIFAR-10 from its python batches (``cifar-10-batches-py/``) at a path the user gives.
* An ImageNet-style folder (``train/<class>/*.jpg`` and ``val/<class>/*.jpg``) via torchvision, at a path the user
  gives.

Nothing here downloads anything.
"""
from __future__ import annotations

import functools
import os
import pickle
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ['digits_datasets', 'digits_dataloaders', 'cifar10_datasets', 'image_folder_datasets', 'make_dataloaders',
           'DATASETS', 'PROVIDES']


def digits_datasets(val_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Train and validation splits of the digits, as ``(N, 1, 8, 8)`` float tensors in ``[0, 1]`` and labels.

    The split is a fixed permutation drawn from ``seed``, so the same seed always gives the same split.

    Raises:
        ValueError: ``val_fraction`` outside ``(0, 1)``.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction={val_fraction!r} is not allowed: val_fraction must be in (0, 1).')
    x, y = _digits_tensors()
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(len(y) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


@functools.lru_cache(maxsize=1)
def _digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    # Parsed once per process: every recipe load and every in-process run reads the digits, and parsing
    # scikit-learn's CSV and converting it cost about 35 ms each time. Callers index these (a copy), so the cached
    # tensors are never handed out.
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return x, torch.tensor(digits.target, dtype=torch.long)


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


def make_dataloaders(train: Dataset, val: Dataset, batch_size: int = 64, eval_batch_size: Optional[int] = None,
                     seed: int = 0, drop_last: bool = True, num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
    """Train and validation dataloaders with Composer's distributed samplers (each rank sees its share).

    Args:
        train, val: map-style datasets.
        batch_size: per-rank training batch size, ``>= 1``.
        eval_batch_size: per-rank evaluation batch size (default ``batch_size``).
        seed: shuffling seed of the training sampler.
        drop_last: drop the last incomplete training batch.
        num_workers: dataloader worker processes, ``>= 0``.
    """
    from composer.utils import dist

    sampler = dist.get_sampler(train, shuffle=True, drop_last=drop_last, seed=seed)
    train_dl = DataLoader(train, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          num_workers=num_workers, persistent_workers=num_workers > 0)
    val_dl = DataLoader(val, batch_size=eval_batch_size or batch_size,
                        sampler=dist.get_sampler(val, shuffle=False, drop_last=False), num_workers=num_workers)
    return train_dl, val_dl


# Per-channel statistics of the CIFAR-10 training images, for normalisation.
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)


def _cifar_dir(path: Union[str, os.PathLike]) -> str:
    from composer_sched.paths import require_kind

    path = require_kind(path, 'path', 'a folder', "the folder of CIFAR-10's python batches, cifar-10-batches-py, "
                        'or the folder holding it')
    for cand in (path, os.path.join(path, 'cifar-10-batches-py')):
        if os.path.isfile(os.path.join(cand, 'data_batch_1')):
            return cand
    raise ValueError(f'path={path!r} is not allowed: no CIFAR-10 python batches there (expected '
                     "'data_batch_1' ... 'data_batch_5' and 'test_batch', in it or in its 'cifar-10-batches-py').")


def _read_cifar_batches(files: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for f in files:
        with open(f, 'rb') as fh:
            d = pickle.load(fh, encoding='bytes')
        xs.append(np.asarray(d[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d[b'labels'], dtype=np.int64))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


class CIFARTensorDataset(Dataset):
    """Uint8 CIFAR images in memory, normalised on access; with ``augment``, a random 32x32 crop of the image
    zero-padded by 4 pixels and a random horizontal flip (the standard ResNet recipe)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, augment: bool = False):
        self.images, self.labels, self.augment = images, labels, augment
        self.mean = torch.tensor(_CIFAR_MEAN).view(3, 1, 1)
        self.std = torch.tensor(_CIFAR_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i].float().div_(255)
        if self.augment:
            padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            x = padded[:, dy:dy + 32, dx:dx + 32]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return (x - self.mean) / self.std, self.labels[i]


def cifar10_datasets(path: Union[str, os.PathLike], augment: bool = True) -> tuple[Dataset, Dataset]:
    """CIFAR-10 train (``data_batch_1..5``) and test (``test_batch``) sets from the python batches at ``path``.

    Args:
        path: the ``cifar-10-batches-py`` directory or its parent (as extracted from ``cifar-10-python.tar.gz``).
        augment: random crop with 4-pixel padding and horizontal flip on the training set.

    Raises:
        ValueError: no batches at ``path``, or a batch file is missing.

    Example:
        >>> train, test = cifar10_datasets('~/data/cifar10')  # doctest: +SKIP
    """
    root = _cifar_dir(path)
    train_files = [os.path.join(root, f'data_batch_{i}') for i in range(1, 6)]
    test_file = os.path.join(root, 'test_batch')
    missing = [f for f in train_files + [test_file] if not os.path.isfile(f)]
    if missing:
        names = ', '.join(map(os.path.basename, missing))
        raise ValueError(f'path={os.fspath(path)!r} is not allowed: missing {names}.')
    x, y = _read_cifar_batches(train_files)
    xt, yt = _read_cifar_batches([test_file])
    return CIFARTensorDataset(x, y, augment), CIFARTensorDataset(xt, yt, False)


def image_folder_datasets(path: Union[str, os.PathLike], image_size: int = 224, augment: bool = True,
                          val_dir: str = 'val') -> tuple[Dataset, Dataset]:
    """An ImageNet-style folder, ``<path>/train/<class>/<image>`` and ``<path>/<val_dir>/<class>/<image>``, via
    torchvision's ``ImageFolder``, normalised with the ImageNet statistics.

    Args:
        path: the folder holding ``train/`` and ``val/``.
        image_size: side of the square crops fed to the model, ``>= 8`` (224 for ImageNet).
        augment: random-resized crop and horizontal flip on the training set (else resize and centre crop).
        val_dir: name of the validation sub-folder.

    Raises:
        ValueError: a missing sub-folder, no images, or the two splits with different classes.
    """
    from torchvision import datasets, transforms

    from composer_sched.paths import require_kind

    path = require_kind(path, 'path', 'a folder', 'the folder holding train/ and val/')
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f'image_size={image_size!r} is not allowed: image_size must be an int >= 8.')
    for sub in ('train', val_dir):
        if not os.path.isdir(os.path.join(path, sub)):
            raise ValueError(f'path={path!r} is not allowed: it has no {sub!r} folder (expected '
                             f'{sub}/<class>/<image> files).')
    norm = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    resize = int(round(image_size * 256 / 224))
    eval_tf = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(image_size),
                                  transforms.ToTensor(), norm])
    train_tf = transforms.Compose([transforms.RandomResizedCrop(image_size), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), norm]) if augment else eval_tf
    try:
        train = datasets.ImageFolder(os.path.join(path, 'train'), transform=train_tf)
        val = datasets.ImageFolder(os.path.join(path, val_dir), transform=eval_tf)
    except (FileNotFoundError, RuntimeError) as e:  # torchvision: "Found no valid file for the classes ..."
        raise ValueError(f'path={path!r} is not allowed: {e}') from None
    if train.classes != val.classes:
        raise ValueError(f'path={path!r} is not allowed: train/ has classes {train.classes[:5]}... but {val_dir}/ '
                         f'has {val.classes[:5]}...; both need the same class folders.')
    return train, val


def digits(val_fraction: float = 0.2, split_seed: int = 0) -> tuple[Dataset, Dataset]:
    """scikit-learn's bundled 8x8 digits, split into train and validation sets (nothing is downloaded).

    Args:
        val_fraction: share of the 1,797 images held out, in ``(0, 1)``.
        split_seed: seed of the fixed split (independent of the run's seed, so runs compare on one split).
    """
    return digits_datasets(val_fraction, split_seed)


from composer_sched.text_data import text  # noqa: E402  (byte-level text for the tinylm recipes)

#: Dataset builders by recipe name (``data: {name: ..., <kwargs>}``); each returns ``(train, val)``.
DATASETS = {'digits': digits, 'cifar10': cifar10_datasets, 'image_folder': image_folder_datasets, 'text': text}

#: What each dataset's batches hold, from its arguments (defaults filled in), without reading it: what a model
#: declares it accepts (:data:`composer_sched.models.ACCEPTS`) is checked against this when a recipe loads.
PROVIDES: dict[str, Callable[[dict], dict]] = {
    'digits': lambda kw: {'kind': 'images', 'classes': 10},
    'cifar10': lambda kw: {'kind': 'images', 'classes': 10},
    'image_folder': lambda kw: {'kind': 'images'},
    'text': lambda kw: {'kind': 'tokens', 'vocab_size': 256, 'context': kw.get('context')},
}
