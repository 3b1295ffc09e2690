"""Schedule-aware loss prediction: fit a loss law on observed runs, predict the end of other schedules.

Two laws, written from their papers' formulas:

* the momentum law of Tissue et al. (2024), :func:`fit_momentum_law`, from one run or more;
* the Multi-Power Law of Luo et al. (ICLR 2025), :func:`fit_multi_power_law`, from two runs or more;

and, for cosine-like decays at other horizons with a constant-LR run beside them, the adiabatic law
(:mod:`~composer_sched.predict.adiabatic`).

Both were derived for language-model cross-entropy loss; a secondary metric (e.g. accuracy) is predicted from the
loss through a monotone map fitted on the observed runs (:class:`MetricMap`). Every prediction carries an 80%
prediction interval calibrated on backtests (``low <= loss <= high``, all > 0); ``LawFit.anchored(run)`` corrects
a fit by a shorter trained run. A target schedule the runs cannot speak for (another family, warm-up or peak,
non-monotone LR, a cosine at another horizon, an end before the first fitted point) raises ``ValueError`` instead
of giving a number (:func:`check_target`, ``LawFit.check``). Submodules: :mod:`~composer_sched.predict.baselines`
(naive predictions to set beside each one), :mod:`~composer_sched.predict.backtest` (every run predicted from the
others), :mod:`~composer_sched.predict.logs` (CSV/JSON ``step, lr, loss`` logs as runs). Method card:
``composer_sched/predict/README.md``.

Example:
    >>> import numpy as np
    >>> from composer_sched.predict import Run, momentum_law, predict_final_loss
    >>> def wsd(T):
    ...     return np.minimum(1.0, (T - np.arange(T)) / (0.2 * T))
    >>> steps = np.arange(100, 1001, 20)
    >>> loss = momentum_law(wsd(1000), steps, L0=2, A=0.5, alpha=0.5, C=2, lam=0.99, scale=1000)
    >>> [round(p.loss, 2) for p in predict_final_loss([Run(wsd(1000), eval_loss=(steps, loss))], [wsd(500), wsd(700)])]
    [2.67, 2.54]
"""
from __future__ import annotations

from typing import List, Sequence

from composer_sched.predict._law import Candidate, LawFit, MetricMap, Prediction
from composer_sched.predict._runs import Run
from composer_sched.predict._shape import ScheduleShape, analyse_schedule, check_target
from composer_sched.predict.momentum import MomentumLawFit, fit_momentum_law, momentum_areas, momentum_law
from composer_sched.predict.multipower import MultiPowerLawFit, fit_multi_power_law, multi_power_law

__all__ = ['Candidate', 'LawFit', 'MetricMap', 'MomentumLawFit', 'MultiPowerLawFit', 'Prediction', 'Run',
           'ScheduleShape', 'analyse_schedule', 'check_target', 'fit_loss_law', 'fit_momentum_law',
           'fit_multi_power_law', 'momentum_areas', 'momentum_law', 'multi_power_law', 'predict_final_loss']

LAWS = ('momentum', 'multi_power')


def fit_loss_law(runs: Sequence[Run], law: str = 'momentum', **kwargs) -> LawFit:
    """Fit ``law`` (``'momentum'``, the default, from one run or more; ``'multi_power'`` from two or more) to
    ``runs``; ``kwargs`` go to :func:`fit_momentum_law` or :func:`fit_multi_power_law`.

    Raises:
        ValueError: an unknown ``law``, or as the fitting function.

    Example:
        >>> import numpy as np
        >>> lr = np.r_[np.ones(800), np.linspace(1, 0, 201)[1:]]
        >>> steps = np.arange(50, 1001, 50)
        >>> run = Run(lr, eval_loss=(steps, momentum_law(lr, steps, L0=2, A=0.5, alpha=0.5, C=2, lam=0.99,
        ...                                                  scale=1000)))
        >>> fit_loss_law([run]).law
        'momentum'
        >>> fit_loss_law([run], law='multi_power')
        Traceback (most recent call last):
        ...
        ValueError: runs: the Multi-Power law needs at least 2 Run object(s), got 1
    """
    if law not in LAWS:
        raise ValueError(f'law must be one of {LAWS}, got {law!r}')
    return (fit_momentum_law if law == 'momentum' else fit_multi_power_law)(runs, **kwargs)


def predict_final_loss(runs: Sequence[Run], targets: Sequence, law: str = 'momentum', **kwargs) -> List[Prediction]:
    """Fit ``law`` on ``runs`` once, then predict the end of each target schedule (a per-batch LR array each).

    Raises:
        ValueError: as :func:`fit_loss_law`, or a target the runs cannot speak for (the message names it as
            ``targets[i]``).

    Example: see the module's (``composer_sched.predict``).
    """
    fit = fit_loss_law(runs, law, **kwargs)
    return [fit.predict(lr, name=f'targets[{i}]') for i, lr in enumerate(targets)]
