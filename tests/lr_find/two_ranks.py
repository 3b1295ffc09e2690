"""One rank of the 2-process LR range test on the digits recipe (a scenario of tests/launch.py's one launch under
Composer's launcher, read by test_lr_find_composer.py): writes its record and suggestions to ``<out>/rank<r>.json``."""
import json
import sys

from composer.utils import dist

from composer_sched.lr_find import RULES, lr_find


def main(out: str, num_batches: int = 30) -> None:
    res = lr_find('digits_cnn', min_lr=1e-4, max_lr=10, num_batches=num_batches)
    rank = dist.get_global_rank()
    with open(f'{out}/rank{rank}.json', 'w') as f:
        json.dump({'world_size': dist.get_world_size(), 'lrs': res.lrs.tolist(), 'losses': res.losses.tolist(),
                   'suggestions': {r: res[r] for r in RULES}}, f)


if __name__ == '__main__':
    main(sys.argv[1], *map(int, sys.argv[2:]))
