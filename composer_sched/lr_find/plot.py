"""The range-test figure: loss against LR (log axis), the smoothed curve, the GP band and every suggestion."""
from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np

from composer_sched.lr_find.suggest import RULES

_MARKERS = dict(zip(RULES, ('o', 's', 'v', '^', 'D', '*', 'P')))


def plot_result(result, path: Union[str, os.PathLike], title: Optional[str] = None) -> str:
    """Write ``result`` (an :class:`~composer_sched.lr_find.LRFindResult`) as a PNG at ``path``; returns it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    lrs, raw, sm = result.lrs, result.losses, result.smoothed
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    ok = np.isfinite(raw)
    ax.plot(lrs[ok], raw[ok], color='0.75', lw=0.8, label='loss (per batch)')
    ax.plot(lrs, sm, color='C0', lw=1.8, label='smoothed loss')
    g = result.gp
    if g is not None:
        grid_lr = np.interp(g.x * (len(lrs) - 1), np.arange(len(lrs)), np.log(lrs))
        ax.plot(np.exp(grid_lr), g.mean, color='C3', lw=1.0, ls='--', label='GP posterior mean')
        ax.axvspan(g.low, g.high, color='C3', alpha=0.12, label='GP band of the minimum')
    for k, rule in enumerate(RULES):
        s = result.suggestions[rule]
        if s.lr is None or s.mark_lr is None:
            continue
        y = s.mark_loss if s.mark_loss is not None and np.isfinite(s.mark_loss) else float(np.nanmin(sm))
        ax.plot([s.mark_lr], [y], _MARKERS[rule], color=f'C{(k + 1) % 10}', ms=8, mec='k', mew=0.6,
                label=f'{rule}: {s.lr:.3g}' + (' (plotted at 10x)' if rule == 'minimum' else ''))
    ax.set_xscale('log')
    ax.set_xlabel('learning rate')
    ax.set_ylabel('training loss')
    finite = sm[np.isfinite(sm)]
    if finite.size:  # the divergent tail would flatten the interesting part
        lo, hi = min(float(finite.min()), float(np.min(raw[ok]))), float(finite[0])
        if g is not None:
            lo = min(lo, float(g.mean.min()))
        top = max(hi, lo) + 0.35 * abs(max(hi, lo) - lo) + 1e-12
        ax.set_ylim(lo - 0.1 * (top - lo), top)
    ax.set_title(title or 'LR range test', fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7, loc='lower left')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return os.fspath(path)
