"""A scenario of the session's 2-rank launch (tests/launch.py): the 0.5 run of the ``two_process_sweep`` fixture's
sweep (tests/conftest.py) planned the same way, but with no trunk checkpoint to branch from, so it trains from
scratch; each rank trains it with the sweep's own ``execute_run`` (what ``composer_sched.sweep._rank`` runs) and
writes its row. tests/sweep/test_sweep_launcher.py compares it with the branch the fixture's sweep recorded."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(out_dir: str) -> None:
    if ROOT not in sys.path:  # the launched ranks have only tests/ on their path; the fixture's settings live here
        sys.path.insert(0, ROOT)
    from composer.utils import dist

    from composer_sched.sweep import SweepTarget
    from composer_sched.sweep.execute import execute_run
    from composer_sched.sweep.plan import plan_sweep
    from tests.sweep.tracking_helpers import OVERRIDES

    target = SweepTarget(None, OVERRIDES, processes=2)  # the fixture's recipe, ratios and seed
    loaded = target.load()
    plan = plan_sweep(loaded, [0.5, 1.0], [0], os.path.join(out_dir, 'checkpoints'),
                      stable_dir=os.path.join(out_dir, 'stable'), final_dir=os.path.join(out_dir, 'final'))
    spec = next(r for r in plan.runs if r.ratio == 0.5)
    row = execute_run(target, spec, loaded.fingerprint, cpus=int(loaded.resources['cpus']))
    row['branch_planned'] = spec.load_from is not None  # the plan did branch it; the checkpoint is not there
    with open(os.path.join(out_dir, f'rank{dist.get_global_rank()}.json'), 'w') as f:
        json.dump(row, f)
