"""Continuing a finished run 1x -> 2x from its final checkpoint (issue 23's "done when"), on the digits CNN.

For a WSD run and a cosine run (3 seeds each): the finished 1x run (its final checkpoint, written through the
recipe's ``save_folder``), then four ways to reach 2x:

* ``continuation``: ``composer_sched.sweep.continuation`` with its default choice (the recipe's own peak, the
  re-warm with the lowest convex bound, then the recipe's decay family), trains the extra 1x only; ``peak P``: the
  same continuation re-warmed to other peaks (``BENCH_CONTINUE_PEAKS``, default 0.75 and 1.25 x the recipe's LR:
  either side of the default; empty for none);
* ``composer resume``: Composer's default, the same recipe resumed with ``max_duration`` doubled (its schedulers
  give the batches after the join the LR of the new horizon);
* ``constant at end LR``: the extra 1x at the LR the finished run ended at;
* ``from scratch 2x``: an independent run of the same schedule at twice the budget (trains 2x).

Printed: the final eval metric's mean and standard deviation over the seeds, batches trained, the continuation's
difference to each way paired by seed (the seeds differ far more among themselves than the ways do on the tiny LM),
and the gap of the continuation to the from-scratch run in seed standard deviations.
``BENCH_CONTINUE_MODEL=tinylm`` runs the tiny LM
(its WSD and cosine recipes, eval cross-entropy) instead of the digits CNN (accuracy); ``BENCH_CONTINUE_SEEDS``
(default 3) and ``BENCH_CONTINUE_BATCHES`` (the 1x length: 88 digits batches = 4 epochs, 400 tiny-LM batches)
change the rest; ``BENCH_CONTINUE_SCHEDULES=wsd`` (or ``cosine``) runs one schedule. Each seed's figures print as
they come.
"""
from __future__ import annotations

import os
import statistics
import tempfile

SCHEDULES = {
    'wsd': ['schedulers=[{name: wsd, t_warmup: 10ba, t_cooldown: 0.2dur}]'],
    'cosine': ['schedulers=[{name: cosine_annealing, t_warmup: 10ba}]'],
}
#: model -> (recipe per schedule, 1x in batches, metric, higher is better)
MODELS = {
    'digits': ({'wsd': (None, SCHEDULES['wsd']), 'cosine': (None, SCHEDULES['cosine'])}, 88, 'MulticlassAccuracy',
               True),
    'tinylm': ({'wsd': ('tinylm_wsd', []), 'cosine': ('tinylm_cosine', [])}, 400, 'LanguageCrossEntropy', False),
}


def _peaks() -> list[float]:
    given = os.environ.get('BENCH_CONTINUE_PEAKS', '0.75,1.25')
    return [float(v) for v in given.split(',') if v.strip()]


def _metric(trainer, name: str) -> float:
    metrics = trainer.state.eval_metrics
    (label,) = metrics
    return float(metrics[label][name].compute())


def _fit(trainer, name: str) -> tuple[float, int]:
    start = int(trainer.state.timestamp.batch)
    trainer.fit()
    out = _metric(trainer, name), int(trainer.state.timestamp.batch) - start
    trainer.close()
    return out


def one_seed(recipe_name, overrides: list, seed: int, batches: int, metric: str) -> dict[str, tuple[float, int]]:
    """The metric and batches trained of each way, for one schedule and seed."""
    from composer_sched.adapters.continuation import ContinuationScheduler
    from composer_sched.recipes import load_recipe
    from composer_sched.recipes.checkpoints import read_checkpoint
    from composer_sched.schedules._continuation import ContinuationSchedule
    from composer_sched.sweep.continuation import continuation_trainer, plan_continuation
    from composer_sched.sweep.target import loaded_target

    base = [f'max_duration={batches}ba', f'seed={seed}', 'progress_bar=false', f'eval.interval={batches}ba',
            *overrides]
    out = {}
    with tempfile.TemporaryDirectory() as d:
        recipe = load_recipe(recipe_name, base + [f'save_folder={d}', 'save_interval=1dur'])
        out['finished 1x'] = _fit(recipe.build_trainer(), metric)
        final = os.path.join(d, 'latest-rank0.pt')
        info = read_checkpoint(final)
        target = loaded_target(load_recipe(recipe_name, base))
        plan = plan_continuation(target, info, 2.0, final)
        out['continuation'] = _fit(continuation_trainer(target, plan, final, progress_bar=False), metric)
        # The other peaks at the chosen re-warm: below and above the default (the recipe's own peak).
        for p in _peaks():
            if abs(p - plan.chosen.peak) > 1e-9:
                other = plan_continuation(target, info, 2.0, final, peak=p, rewarm=plan.chosen.rewarm)
                out[f'  peak {p:g}'] = _fit(continuation_trainer(target, other, final, progress_bar=False), metric)
        out['composer resume'] = _fit(load_recipe(recipe_name, base).build_trainer(
            max_duration=f'{2 * batches}ba', load_path=final), metric)
        flat = ContinuationSchedule(head=plan.schedule.head, peak=plan.schedule.start, rewarm=1, tail=(1.0,))
        out['constant at end LR'] = _fit(target.recipe.build_trainer(
            max_duration=f'{plan.batches}ba', schedulers=[ContinuationScheduler(flat)], load_path=final), metric)
        out['from scratch 2x'] = _fit(load_recipe(recipe_name, base).build_trainer(
            max_duration=f'{2 * batches}ba', eval_interval=f'{2 * batches}ba'), metric)
        out['_chosen'] = (plan.chosen.peak, plan.chosen.rewarm)
    return out


def summary(model: str, name: str, runs: list, batches: int, metric: str, higher: bool) -> None:
    """Print the table of one schedule from each seed's ways (:func:`one_seed`)."""
    ways = [k for k in runs[0] if not k.startswith('_')]
    print(f'{model}, {name}, 1x = {batches} batches -> 2x, {len(runs)} seeds (final eval {metric}):')
    print(f'  {"":<24}{"mean":>8}{"std":>8}{"batches":>9}   continuation - it, paired by seed (mean, std)')
    val = {w: [r[w][0] for r in runs] for w in ways}
    for w in ways:
        sd = statistics.stdev(val[w]) if len(val[w]) > 1 else 0.0
        diff = [c - v for c, v in zip(val['continuation'], val[w])]
        paired = '' if w == 'continuation' else \
            f'   {statistics.mean(diff):+.4f} {statistics.stdev(diff) if len(diff) > 1 else 0.0:.4f}'
        print(f'  {w:<24}{statistics.mean(val[w]):>8.4f}{sd:>8.4f}{runs[0][w][1]:>9}{paired}')
    sd = statistics.stdev(val['from scratch 2x']) if len(runs) > 1 else float('nan')
    gap = statistics.mean(val['continuation']) - statistics.mean(val['from scratch 2x'])
    rel = gap / statistics.mean(val['from scratch 2x'])
    print(f'  continuation - from scratch: {gap:+.4f} ({rel:+.2%}, {gap / sd if sd else float("nan"):+.2f} seed '
          f'std); chosen (peak x lr, re-warm batches): {[r["_chosen"] for r in runs]}')
    sign = 1 if higher else -1
    better = all(sign * (statistics.mean(val['continuation']) - statistics.mean(val[w])) > 0
                 for w in ('composer resume', 'constant at end LR'))
    print(f'  continuation better than both naive continuations: {better}')


def main() -> None:
    import logging
    import warnings

    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    seeds = range(int(os.environ.get('BENCH_CONTINUE_SEEDS', '3')))
    model = os.environ.get('BENCH_CONTINUE_MODEL', 'digits')
    recipes, batches, metric, higher = MODELS[model]
    batches = int(os.environ.get('BENCH_CONTINUE_BATCHES', str(batches)))
    only = os.environ.get('BENCH_CONTINUE_SCHEDULES', '')
    for name, (recipe_name, overrides) in recipes.items():
        if only and name not in only.split(','):
            continue
        runs = []
        for s in seeds:
            runs.append(one_seed(recipe_name, overrides, s, batches, metric))
            print(f'# {model} {name} seed {s}: {runs[-1]}', flush=True)
        summary(model, name, runs, batches, metric, higher)
