"""Reproduce the method card's example effects: digits CNN, 16-epoch cosine-with-warm-up budget, ScaleSchedule at
several ratios, three seeds each; prints batches trained and validation accuracy.

Run: ``python -m benchmarks.scale_schedule_effects`` (about 2 minutes on one CPU core).
"""
from __future__ import annotations

import warnings
from typing import Sequence


def run(ratio: float, seed: int) -> tuple[int, float]:
    """One run: ``(batches trained, validation accuracy)``."""
    import torch
    from composer import Trainer
    from composer.optim import CosineAnnealingWithWarmupScheduler

    from composer_sched.algorithms.scale_schedule.scale_schedule import ScaleSchedule
    from composer_sched.data import digits_dataloaders
    from composer_sched.models import digits_cnn

    torch.manual_seed(seed)
    train, val = digits_dataloaders(batch_size=64, seed=seed)
    model = digits_cnn()
    trainer = Trainer(model=model, train_dataloader=train, eval_dataloader=val, max_duration='16ep',
                      optimizers=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                      schedulers=CosineAnnealingWithWarmupScheduler(t_warmup='10ba'),
                      algorithms=[ScaleSchedule(ratio)], device='cpu', seed=seed, progress_bar=False,
                      log_to_console=False, eval_interval='100ep')
    trainer.fit()
    trainer.eval()
    acc = float(trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute())
    return int(trainer.state.timestamp.batch.value), acc


def main(ratios: Sequence[float] = (0.125, 0.25, 0.5, 1.0, 2.0), seeds: Sequence[int] = (0, 1, 2)) -> None:
    import torch

    warnings.filterwarnings('ignore')
    torch.set_num_threads(1)
    print('ratio  batches  val accuracy per seed      mean')
    for ratio in ratios:
        results = [run(ratio, s) for s in seeds]
        accs = [a for _, a in results]
        print(f'{ratio:<6g} {results[0][0]:>7}  {", ".join(f"{a:.4f}" for a in accs):<26} {sum(accs) / len(accs):.4f}')


if __name__ == '__main__':
    main()
