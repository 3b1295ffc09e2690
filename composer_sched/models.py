"""Models for the recipes: a small CNN for the bundled digits, CIFAR ResNets and torchvision ResNets."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ['DigitsCNN', 'digits_cnn', 'CIFARResNet', 'cifar_resnet', 'cifar_resnet20', 'cifar_resnet56', 'resnet18',
           'resnet50', 'MODELS', 'ACCEPTS']


class DigitsCNN(nn.Module):
    """A two-convolution CNN for 8x8 single-channel digits: conv(width) -> conv(2 width) -> pool -> linear.

    Args:
        width: channels of the first convolution, an integer ``>= 1`` (default 16).
        num_classes: output classes, an integer ``>= 2`` (default 10).

    Raises:
        ValueError: ``width`` or ``num_classes`` out of range.
    """

    def __init__(self, width: int = 16, num_classes: int = 10):
        _check_int('width', width, 1)
        _check_int('num_classes', num_classes, 2)
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * width * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def _check_int(name: str, value, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be an integer >= {lo}.')


def digits_cnn(width: int = 16, num_classes: int = 10):
    """:class:`DigitsCNN` wrapped as a Composer classifier (cross-entropy loss, accuracy metrics)."""
    from composer.models import ComposerClassifier
    from torchmetrics.classification import MulticlassAccuracy

    return ComposerClassifier(DigitsCNN(width, num_classes), num_classes=num_classes,
                              train_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'),
                              val_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'))


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; a 1x1 projection on the shortcut when the shape changes."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CIFARResNet(nn.Module):
    """The CIFAR ResNet of He et al. (2016, section 4.2): depth ``6n + 2``, three stages of ``n`` basic blocks with
    16, 32 and 64 channels, global average pooling and a linear classifier (projection shortcuts).

    Args:
        depth: ``6n + 2`` with ``n >= 1``: 20, 32, 44, 56, 110, ...
        num_classes: output classes, ``>= 2``.

    Raises:
        ValueError: ``depth`` is not of the form ``6n + 2`` or ``num_classes < 2``.
    """

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f'depth={depth!r} is not allowed: a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, ...).')
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'num_classes={num_classes!r} is not allowed: num_classes must be an int >= 2.')
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, in_ch = [], 16
        for stage, out_ch in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(_BasicBlock(in_ch, out_ch, 2 if stage > 0 and i == 0 else 1))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(x))
        return self.head(out.mean(dim=(2, 3)))


def _classifier(module: nn.Module, num_classes: int):
    from composer.models import ComposerClassifier
    from torchmetrics.classification import MulticlassAccuracy

    return ComposerClassifier(module, num_classes=num_classes,
                              train_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'),
                              val_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'))


def cifar_resnet(depth: int = 20, num_classes: int = 10):
    """:class:`CIFARResNet` of ``depth`` as a Composer classifier.

    Args:
        depth: ``6n + 2``: 20 (0.27M parameters), 56 (0.85M), ...
        num_classes: output classes, ``>= 2``.

    Example:
        >>> model = cifar_resnet(20)
    """
    return _classifier(CIFARResNet(depth, num_classes), num_classes)


def cifar_resnet20(num_classes: int = 10):
    """ResNet-20 for 32x32 images (:func:`cifar_resnet` with ``depth=20``)."""
    return cifar_resnet(20, num_classes)


def cifar_resnet56(num_classes: int = 10):
    """ResNet-56 for 32x32 images (:func:`cifar_resnet` with ``depth=56``)."""
    return cifar_resnet(56, num_classes)


def _torchvision_resnet(arch: str, num_classes: int):
    import torchvision

    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f'num_classes={num_classes!r} is not allowed: num_classes must be an int >= 2.')
    # weights=None: randomly initialised, nothing is downloaded.
    return _classifier(getattr(torchvision.models, arch)(weights=None, num_classes=num_classes), num_classes)


def resnet18(num_classes: int = 1000):
    """torchvision's ResNet-18 (random init, ``weights=None``) for ImageNet-style images, as a Composer classifier.

    Args:
        num_classes: output classes, ``>= 2`` (1000 for ImageNet).
    """
    return _torchvision_resnet('resnet18', num_classes)


def resnet50(num_classes: int = 1000):
    """torchvision's ResNet-50 (random init, ``weights=None``) for ImageNet-style images, as a Composer classifier.

    Args:
        num_classes: output classes, ``>= 2`` (1000 for ImageNet).
    """
    return _torchvision_resnet('resnet50', num_classes)


from composer_sched.tinylm import tiny_lm  # noqa: E402  (the tiny language model of the tinylm recipes)

#: Model builders by recipe name (``model: {name: ..., <kwargs>}``).
MODELS = {'digits_cnn': digits_cnn, 'cifar_resnet20': cifar_resnet20, 'cifar_resnet56': cifar_resnet56,
          'cifar_resnet': cifar_resnet, 'resnet18': resnet18, 'resnet50': resnet50, 'tiny_lm': tiny_lm}


def _images(model: dict, data: dict) -> list[tuple[str, str]]:
    if data.get('kind') != 'images':
        return [('data.name', f'the model classifies images, and this dataset gives {data.get("kind")}; give an '
                 'image dataset (digits, cifar10, image_folder) or a model for it (tiny_lm for tokens).')]
    n, classes = model.get('num_classes'), data.get('classes')
    if isinstance(n, int) and isinstance(classes, int) and n < classes:
        return [('model.num_classes', f'{n!r} is not allowed: the dataset has {classes} classes; num_classes must '
                 f'be >= {classes}.')]
    return []


def _tokens(model: dict, data: dict) -> list[tuple[str, str]]:
    if data.get('kind') != 'tokens':
        return [('data.name', f'tiny_lm reads token ids, and this dataset gives {data.get("kind")}; give data: '
                 '{name: text} or an image model.')]
    out = []
    vocab, ctx = data.get('vocab_size'), data.get('context')
    if isinstance(vocab, int) and model['vocab_size'] < vocab:
        out.append(('model.vocab_size', f'{model["vocab_size"]!r} is not allowed: the data\'s tokens are ids '
                    f'0..{vocab - 1} (bytes); model.vocab_size must be >= {vocab}.'))
    if isinstance(ctx, int) and ctx > model['context']:
        out.append(('data.context', f'{ctx!r} is not allowed: the model has {model["context"]} learned positions '
                    f'(model.context); data.context must be <= {model["context"]}, or raise model.context.'))
    return out


#: What each model accepts: ``fn(model_kwargs, data) -> [(key path, message)]``, ``data`` from the dataset's
#: :data:`composer_sched.data.PROVIDES`, arguments with their defaults filled in; checked when a recipe loads, so a
#: context, a vocabulary or a class count that cannot train is refused before any batch (and before a sweep's runs).
ACCEPTS: dict[str, Callable[[dict, dict], list]] = {
    'digits_cnn': _images, 'cifar_resnet20': _images, 'cifar_resnet56': _images, 'cifar_resnet': _images,
    'resnet18': _images, 'resnet50': _images, 'tiny_lm': _tokens}
