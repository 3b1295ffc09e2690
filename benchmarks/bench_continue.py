"""Continuing a finished run 1x -> 2x from its final checkpoint (issue 23's "done when"), on the digits CNN.

For a WSD run and a cosine run (3 seeds each): the finished 1x run (its final checkpoint, written through the
recipe's ``save_folder``), then four ways to reach 2x:

* ``continuation``: ``composer_sched.sweep.continuation`` (the candidate the convex bound chooses), trains the
  extra 1x only;
* ``composer resume``: Composer's default, the same recipe resumed with ``max_duration`` doubled (its schedulers
  give the batches after the join the LR of the new horizon);
* ``constant at end LR``: the extra 1x at the LR the finished run ended at;
* ``from scratch 2x``: an independent run of the same schedule at twice the budget (trains 2x).

Printed: final eval accuracy mean and standard deviation over the seeds, batches trained, and the gap of the
continuation to the from-scratch run in seed standard deviations. Set ``BENCH_CONTINUE_SEEDS`` / ``..._EPOCHS`` to
change the seeds (default 3) or the 1x length in epochs (default 4).
"""
from __future__ import annotations

import os
import statistics
import tempfile

SCHEDULES = {
    'wsd': ['schedulers=[{name: wsd, t_warmup: 10ba, t_cooldown: 0.2dur}]'],
    'cosine': ['schedulers=[{name: cosine_annealing, t_warmup: 10ba}]'],
}


def _accuracy(trainer) -> float:
    metrics = trainer.state.eval_metrics
    (label,) = metrics
    return float(next(iter(metrics[label].values())).compute())


def _fit(trainer) -> tuple[float, int]:
    start = int(trainer.state.timestamp.batch)
    trainer.fit()
    out = _accuracy(trainer), int(trainer.state.timestamp.batch) - start
    trainer.close()
    return out


def one_seed(overrides: list, seed: int, epochs: int) -> dict[str, tuple[float, int]]:
    """Accuracy and batches trained of each way, for one schedule and seed."""
    from composer_sched.adapters.continuation import ContinuationScheduler
    from composer_sched.recipes import load_recipe
    from composer_sched.recipes.checkpoints import read_checkpoint
    from composer_sched.schedules._continuation import ContinuationSchedule
    from composer_sched.sweep.continuation import continuation_trainer, plan_continuation
    from composer_sched.sweep.target import loaded_target

    base = [f'max_duration={epochs}ep', f'seed={seed}', 'progress_bar=false', *overrides]
    out = {}
    with tempfile.TemporaryDirectory() as d:
        recipe = load_recipe(None, base + [f'save_folder={d}', 'save_interval=1dur'])
        out['finished 1x'] = _fit(recipe.build_trainer())
        final = os.path.join(d, 'latest-rank0.pt')
        info = read_checkpoint(final)
        target = loaded_target(load_recipe(None, base))
        plan = plan_continuation(target, info, 2.0, final)
        out['continuation'] = _fit(continuation_trainer(target, plan, final, progress_bar=False))
        out['composer resume'] = _fit(load_recipe(None, base).build_trainer(
            max_duration=f'{2 * epochs}ep', load_path=final))
        flat = ContinuationSchedule(head=plan.schedule.head, peak=plan.schedule.start, rewarm=1, tail=(1.0,))
        out['constant at end LR'] = _fit(target.recipe.build_trainer(
            max_duration=f'{plan.batches}ba', schedulers=[ContinuationScheduler(flat)], load_path=final))
        out['from scratch 2x'] = _fit(load_recipe(None, base[:1] + base[1:]).build_trainer(
            max_duration=f'{2 * epochs}ep'))
        out['_chosen'] = (plan.chosen.peak, plan.chosen.rewarm)
    return out


def main() -> None:
    import logging
    import warnings

    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    seeds = range(int(os.environ.get('BENCH_CONTINUE_SEEDS', '3')))
    epochs = int(os.environ.get('BENCH_CONTINUE_EPOCHS', '4'))
    for name, overrides in SCHEDULES.items():
        runs = [one_seed(overrides, s, epochs) for s in seeds]
        ways = [k for k in runs[0] if not k.startswith('_')]
        print(f'digits CNN, {name}, 1x = {epochs} epochs -> 2x, {len(runs)} seeds (final eval accuracy):')
        print(f'  {"":<22}{"mean":>8}{"std":>8}{"batches":>9}')
        acc = {}
        for w in ways:
            acc[w] = [r[w][0] for r in runs]
            sd = statistics.stdev(acc[w]) if len(acc[w]) > 1 else 0.0
            print(f'  {w:<22}{statistics.mean(acc[w]):>8.4f}{sd:>8.4f}{runs[0][w][1]:>9}')
        sd = statistics.stdev(acc['from scratch 2x']) if len(runs) > 1 else float('nan')
        gap = statistics.mean(acc['continuation']) - statistics.mean(acc['from scratch 2x'])
        rel = gap / statistics.mean(acc['from scratch 2x'])
        print(f'  continuation - from scratch: {gap:+.4f} ({rel:+.2%}, {gap / sd if sd else float("nan"):+.2f} seed '
              f'std); chosen (peak x lr, re-warm batches): {[r["_chosen"] for r in runs]}')
        better = all(statistics.mean(acc['continuation']) > statistics.mean(acc[w])
                     for w in ('composer resume', 'constant at end LR'))
        print(f'  continuation better than both naive continuations: {better}')
