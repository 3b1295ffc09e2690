"""Draw docs/img/theory_base_lr.png and docs/img/theory_horizon_transfer.png (docs/theory.md).

Run from the repository root: ``.venv/bin/python docs/img/theory_plots.py``.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np

from composer_sched.theory import CosineSchedule, WSDSchedule, compute_optimal_base, horizon_transfer

plt.switch_backend('Agg')  # files only, no display

# 1) optimal base LR and bound against the horizon
Ts = np.unique(np.geomspace(50, 20000, 25).astype(int))
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
for label, make in (('wsd 0.2', lambda T: WSDSchedule(steps=T + 1, cooldown_len=0.2)),
                    ('cosine', lambda T: CosineSchedule(steps=T + 1)),
                    ('linear decay', lambda T: WSDSchedule(steps=T + 1, cooldown_len=1.0))):
    res = np.array([compute_optimal_base(make(T), 1, 1, T) for T in Ts])
    a.loglog(Ts, res[:, 0], 'o-', ms=3, label=label)
    b.loglog(Ts, res[:, 1], 'o-', ms=3, label=label)
a.set(xlabel='horizon T', ylabel='optimal base LR', title='tuned base LR shrinks ~ 1/sqrt(T)')
b.set(xlabel='horizon T', ylabel='bound at the optimal base LR', title='best reachable bound')
for ax in (a, b):
    ax.grid(alpha=.3, which='both')
    ax.legend()
fig.tight_layout()
fig.savefig('docs/img/theory_base_lr.png')
plt.close(fig)

# 2) horizon transfer: WSD tuned at T0 = 4000, extended with a longer cool-down at the same base LR
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    results = horizon_transfer('wsd', 4000, [4000, 8000, 12000, 16000])
for r in results:
    s = r.schedule
    a.plot(np.arange(1, len(s) + 1), s.schedule, label=f'T1={r.T1}: cool-down {r.param:.2f}')
    b.plot(np.arange(1, r.T1 + 1), s.bound_curve(1, 1, r.T1), label=f'T1={r.T1}')
a.set(xlabel='step t', ylabel='learning rate', title='same base LR, longer cool-down')
b.set(xlabel='step t', ylabel='bound', yscale='log', ylim=(0.01, 0.2), title='bound curves at the tuned base LR')
for ax in (a, b):
    ax.grid(alpha=.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig('docs/img/theory_horizon_transfer.png')
plt.close(fig)
print([(r.T1, r.param, round(r.optimal_base_lr, 6), round(r.bound, 6)) for r in results])
