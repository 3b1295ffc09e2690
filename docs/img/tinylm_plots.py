"""docs/img/tinylm_loss.png: the bundled tiny language model's loss curves, WSD against cosine.

Trains ``tinylm_wsd`` and ``tinylm_cosine`` once each (seed 0, one torch thread) and plots the training loss
(40-batch moving average), the eval cross-entropy every 100 batches, and the learning rate. Run from the checkout's
root: ``OMP_NUM_THREADS=1 .venv/bin/python docs/img/tinylm_plots.py`` (twice a ~1.5-minute run on a free core).
Cached results go to ``runs/tinylm_plots/<recipe>.json``; delete them to retrain.
"""
import json
import os
import sys

import numpy as np


def train(name: str, out: str) -> dict:
    import torch
    from composer.loggers import InMemoryLogger

    from composer_sched.recipes import load_recipe

    if os.path.exists(out):
        with open(out) as f:
            return json.load(f)
    torch.set_num_threads(1)
    recipe = load_recipe(name)
    logger = InMemoryLogger()
    trainer = recipe.build_trainer(loggers=[logger], progress_bar=False)
    trainer.fit()
    res = {'loss': [float(v) for _, v in logger.data['loss/train/total']],
           'lr': (recipe.preview() * recipe.lr).tolist(),
           'eval': [(int(t.batch), float(v)) for t, v in logger.data['metrics/eval/LanguageCrossEntropy']],
           'sha256': logger.hyperparameters['data/sha256']}
    trainer.close()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(res, f)
    return res


def main(cache: str = 'runs/tinylm_plots') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    runs = {n: train(n, os.path.join(cache, f'{n}.json')) for n in ('tinylm_wsd', 'tinylm_cosine')}
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    for (name, r), color in zip(runs.items(), ('C0', 'C1')):
        label = name.split('_')[1]
        loss = np.array(r['loss'])
        k = 40
        smooth = np.convolve(loss, np.ones(k) / k, mode='valid')
        a.plot(np.arange(k, len(loss) + 1), smooth, color=color, label=f'{label}: train (moving avg {k})')
        ev = np.array(r['eval'])
        a.plot(ev[:, 0], ev[:, 1], 'o--', color=color, ms=4, label=f'{label}: eval')
        b.plot(np.arange(len(r['lr'])), r['lr'], color=color, label=label)
    a.set(xlabel='batch', ylabel='cross-entropy (nats per byte)', ylim=(None, 2.6),
          title='tiny LM on Python\'s help text')
    b.set(xlabel='batch', ylabel='learning rate', title='schedules (AdamW, peak 3e-3)')
    for ax in (a, b):
        ax.grid(alpha=.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig('docs/img/tinylm_loss.png')
    plt.close(fig)
    for name, r in runs.items():
        print(name, 'final eval CE', r['eval'][-1][1], 'text sha256', r['sha256'][:12])


if __name__ == '__main__':
    main(*sys.argv[1:])
