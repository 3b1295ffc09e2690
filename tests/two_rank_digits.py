"""What the 2-rank digits scenarios share (tests/launch.py's SCENARIOS; tests/two_rank_scenarios.py runs them with
this folder on ``sys.path``): the digits CNN trained by this rank's Composer ``Trainer``, the LR every batch started
with written to ``<out_dir>/rank<r>.json`` beside the world size."""
import json
import os


def record_lrs(out_dir: str, **trainer_kwargs) -> None:
    """Train the small digits CNN (SGD, lr 0.1, batches of 16, one thread) with ``trainer_kwargs`` (the schedule,
    duration, seed, ...) and write ``{'world_size', 'lrs'}`` for this rank."""
    import torch
    from composer import Trainer
    from composer.core import Callback
    from composer.utils import dist

    from composer_sched.data import digits_dataloaders
    from composer_sched.models import digits_cnn

    torch.set_num_threads(1)
    lrs = []

    class Record(Callback):
        def batch_start(self, state, logger):
            lrs.append(state.optimizers[0].param_groups[0]['lr'])

    train, _ = digits_dataloaders(batch_size=16)
    model = digits_cnn(width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Trainer(model=model, train_dataloader=train, optimizers=opt, callbacks=[Record()], device='cpu',
            progress_bar=False, log_to_console=False, loggers=[], **trainer_kwargs).fit()
    with open(os.path.join(out_dir, f'rank{dist.get_global_rank()}.json'), 'w') as f:
        json.dump({'world_size': dist.get_world_size(), 'lrs': lrs}, f)
