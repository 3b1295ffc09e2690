"""Small models for the bundled data."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ['DigitsCNN', 'digits_cnn']


class DigitsCNN(nn.Module):
    """A two-convolution CNN for 8x8 single-channel digits: conv(16) -> conv(32) -> pool -> linear(10)."""

    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * width * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def digits_cnn(width: int = 16, num_classes: int = 10):
    """:class:`DigitsCNN` wrapped as a Composer classifier (cross-entropy loss, accuracy metrics)."""
    from composer.models import ComposerClassifier
    from torchmetrics.classification import MulticlassAccuracy

    return ComposerClassifier(DigitsCNN(width, num_classes), num_classes=num_classes,
                              train_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'),
                              val_metrics=MulticlassAccuracy(num_classes=num_classes, average='micro'))
