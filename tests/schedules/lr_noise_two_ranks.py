"""Run under ``composer -n 2``: transformers' cosine_with_min_lr times lr_noise on the digits; each rank writes the
LRs it applied."""
import json
import os
import sys

import torch


def main(out_dir: str) -> None:
    from composer import Trainer
    from composer.core import Callback
    from composer.utils import dist

    from composer_sched import ComposerScheduler, ProductScheduler
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
    # rank-dependent seeds elsewhere must not matter: the noise of step k is seeded by seed + k only
    torch.manual_seed(1000 + dist.get_global_rank())
    sched = ProductScheduler(ComposerScheduler('hf/cosine_with_min_lr', min_lr_rate=0.1),
                             ComposerScheduler('lr_noise', t_start='2ba', pct=0.3, seed=7))
    Trainer(model=model, train_dataloader=train, optimizers=opt, max_duration='12ba', schedulers=sched,
            callbacks=[Record()], device='cpu', progress_bar=False, log_to_console=False, loggers=[],
            seed=5 + dist.get_global_rank()).fit()
    with open(os.path.join(out_dir, f'rank{dist.get_global_rank()}.json'), 'w') as f:
        json.dump({'world_size': dist.get_world_size(), 'lrs': lrs}, f)


if __name__ == '__main__':
    main(sys.argv[1])
