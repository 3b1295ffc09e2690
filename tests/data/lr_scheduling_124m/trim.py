"""Rebuild runs.json from the unchanged exports of fabian-sp/lr-scheduling (see README.md here).

Usage: python trim.py /path/to/lr-scheduling-124m  (writes runs.json next to this file)
"""
import json
import pathlib
import sys

KEEP_CONFIG = ('lr', 'scheduler', 'decay_type', 'iterations', 'warmup_steps', 'wsd_fract_decay', 'eval_interval',
               'eval_batches', 'beta1', 'beta2', 'weight_decay', 'seed', 'data_seed')
SHORT = {'stable-124m': 'trunk', 'ann124-0.2': 'wsd'}  # the WSD sweep and its trunk; the cosine runs are not needed


def main(src):
    runs = {}
    for path in sorted(pathlib.Path(src).glob('*.json')):
        if path.name.split('_')[0] not in SHORT:
            continue
        d = json.loads(path.read_text())
        h, c = d['history'], d['config']
        key = f"{SHORT[path.name.split('_')[0]]}{c['iterations']}"
        # Sort by iteration (keeping the last value logged for an iteration, should a run have been resumed).
        val = {i: (loss, a) for i, loss, a in zip(h['val']['iter'], h['val']['val_loss'], h['val']['val_acc'])}
        t = h['train']
        train = {i: (loss, r) for i, loss, r in zip(t['iter'], t['train_loss'], t['train_lr'])}
        vi, ti = sorted(val), sorted(train)
        runs[key] = {
            'file': path.name,
            'config': {k: c[k] for k in KEEP_CONFIG},
            'val': {'iter': vi, 'loss': [round(val[i][0], 6) for i in vi], 'acc': [round(val[i][1], 6) for i in vi]},
            'train': {'iter': ti, 'loss': [round(train[i][0], 6) for i in ti],
                      'lr': [float(f'{train[i][1]:.8g}') for i in ti]},
            'final_val_loss': h['final-val']['final_val_loss'][-1],
        }
    out = pathlib.Path(__file__).with_name('runs.json')
    out.write_text(json.dumps(runs, separators=(',', ':')) + '\n')
    print(out, out.stat().st_size, 'bytes')


if __name__ == '__main__':
    main(sys.argv[1])
