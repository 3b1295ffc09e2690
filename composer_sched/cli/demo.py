"""``composer-sched demo``: a short run on the bundled digits with a WSD schedule from the core.

(The ratio sweep replaces this as the main job once it lands.)
"""
from __future__ import annotations

COMMAND = 'demo'
HELP = 'Train the bundled digits CNN with a WSD schedule; print the schedule it used and the final accuracy.'
EPILOG = 'examples:\n  composer-sched demo\n  composer-sched demo --epochs 4 --seed 1\n'


def add_arguments(parser):
    parser.add_argument('--epochs', type=int, default=6, help='training epochs (default 6)')
    parser.add_argument('--lr', type=float, default=0.05, help='peak learning rate (default 0.05)')
    parser.add_argument('--seed', type=int, default=0)


def run(args) -> int:
    import logging
    import warnings

    import torch
    from composer import Trainer

    from composer_sched.adapters.composer import WSDScheduler
    from composer_sched.data import digits_dataloaders
    from composer_sched.models import digits_cnn
    from composer_sched.preview import preview

    if args.epochs < 1:
        raise ValueError(f'--epochs={args.epochs} is not allowed: --epochs must be >= 1.')
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    torch.manual_seed(args.seed)
    train_dl, val_dl = digits_dataloaders(batch_size=64, seed=args.seed)
    model = digits_cnn()
    sched = WSDScheduler(t_warmup='20ba', t_cooldown='0.3dur')
    max_duration = f'{args.epochs}ep'
    values = preview(sched, max_duration, dataloader_len=len(train_dl)) * args.lr
    n = len(values)
    print(f'schedule: {sched!r}, peak lr {args.lr:g}, {max_duration} = {n} batches of 64')
    for k in sorted({0, 10, 20, n // 2, int(0.7 * n), int(0.85 * n), n - 1}):
        print(f'  batch {k:>4}: lr {values[k]:.5f}')
    trainer = Trainer(model=model, train_dataloader=train_dl, eval_dataloader=val_dl, max_duration=max_duration,
                      optimizers=torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9),
                      schedulers=[sched], device='cpu', seed=args.seed, progress_bar=False, log_to_console=False,
                      loggers=[])
    trainer.fit()
    acc = float(trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute())
    print(f'final validation accuracy: {acc:.4f} ({len(val_dl.dataset)} held-out digits)')
    return 0
