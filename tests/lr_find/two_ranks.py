"""Run under Composer's launcher by test_lr_find_composer.py: an LR range test on the digits recipe; each rank writes
its record and suggestions to ``<out>/rank<r>.json``."""
import json
import sys

from composer.utils import dist

from composer_sched.lr_find import RULES, lr_find

if __name__ == '__main__':
    out = sys.argv[1]
    res = lr_find('digits_cnn', min_lr=1e-4, max_lr=10, num_batches=int(sys.argv[2]))
    rank = dist.get_global_rank()
    with open(f'{out}/rank{rank}.json', 'w') as f:
        json.dump({'world_size': dist.get_world_size(), 'lrs': res.lrs.tolist(), 'losses': res.losses.tolist(),
                   'suggestions': {r: res[r] for r in RULES}}, f)
