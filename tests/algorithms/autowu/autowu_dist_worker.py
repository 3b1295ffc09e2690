"""One rank of the 2-process AutoWU run launched by test_autowu_dist.py (``composer -n 2 this.py OUT_DIR``).

Each rank trains on its own shard of the digits, so its local losses differ from the other rank's; AutoWU reads
the all-reduced loss. Writes ``rank{r}.json``: local and reduced losses, LRs, the test record and the switch.
"""
import json
import os
import sys

import torch
from composer import Trainer
from composer.core import Callback
from composer.utils import dist

from composer_sched import AutoWU
from composer_sched.data import digits_dataloaders
from composer_sched.models import digits_cnn

torch.set_num_threads(1)


class Trace(Callback):
    def __init__(self):
        self.local, self.reduced, self.lrs = [], [], []

    def before_train_batch(self, state, logger):
        self.lrs.append(state.optimizers[0].param_groups[0]['lr'])

    def batch_end(self, state, logger):
        self.local.append(float(state.loss))  # this rank's own loss (before the all-reduce)
        self.reduced.append(state.total_loss_dict['loss/train/total'])


def main(out_dir: str) -> None:
    torch.manual_seed(0)
    model = digits_cnn(width=8)
    # max_lr=100 with the test's switch held off (patience=50): the run must blow up, so every rank rolls back
    algo = AutoWU(min_lr=1e-2, max_lr=100.0, max_warmup_fraction=0.75, immediate_cooldown=True, test_interval=10,
                  patience=50, fit_points=40, predict_points=120, grid_points=120)
    trace = Trace()
    train, _ = digits_dataloaders(batch_size=32)
    Trainer(model=model, train_dataloader=train, max_duration='4ep', train_subset_num_batches=20,
            optimizers=torch.optim.SGD(model.parameters(), lr=0.1), algorithms=[algo], callbacks=[trace],
            device='cpu', dist_timeout=120, progress_bar=False, log_to_console=False, loggers=[], seed=17).fit()
    rank = dist.get_global_rank()
    out = {'rank': rank, 'world_size': dist.get_world_size(), 'local': trace.local, 'reduced': trace.reduced,
           'lrs': trace.lrs, 'tests': algo.engine.tests, 'switch_step': algo.switch_step,
           'switch_lr': algo.switch_lr, 'switch_reason': algo.engine.switch_reason,
           'restore_step': algo.engine.restore_step,
           'weights': [float(v) for p in model.parameters() for v in p.detach().reshape(-1)]}
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    main(sys.argv[1])
