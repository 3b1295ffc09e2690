"""Sweeps of a recipe whose runs take 2 processes: the runs (the shared trunk, then its branch) in one launch under
Composer's launcher on CPU (gloo), rows recorded once with their world size, a branch gives the numbers of the same
run trained from scratch."""
import os
import sqlite3

import pytest

from composer_sched.cli import main
from composer_sched.sweep import SweepTarget

# 1 epoch of the bundled digits recipe is 11 batches of 64 per rank with 2 ranks; one eval batch keeps it short.
OVERRIDES = ('max_duration=1ep', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba')


@pytest.mark.parametrize('argv, needle', [
    (['--procs-per-run', '0'], '--procs-per-run=0'),
    (['variables.resources.processes=two'], "variables.resources.processes='two'"),
    (['variables.resources.processes=0'], 'variables.resources.processes=0'),
])
def test_bad_process_count_is_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['sweep', '--out', str(out), *argv, *OVERRIDES]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error:') and needle in err and 'int >= 1' in err
    assert '\n' not in err and not (out / 'results.sqlite').exists()


def test_process_count_from_cli_or_recipe_sets_world_size_and_keeps_rows_apart():
    one = SweepTarget(None, OVERRIDES).load()
    two = SweepTarget(None, OVERRIDES, processes=2).load()
    from_recipe = SweepTarget(None, OVERRIDES + ('variables.resources.processes=2',)).load()
    assert (one.world_size, two.world_size, from_recipe.world_size) == (1, 2, 2)
    assert two.resources['processes'] == 2 and 'WORLD_SIZE' not in os.environ  # planning env restored
    # the distributed sampler splits the 1438 training digits over 2 ranks: budgets count batches per rank
    assert (one.dataloader_len, two.dataloader_len) == (22, 11)
    assert two.samples_per_batch == 2 * one.samples_per_batch
    assert two.fingerprint != one.fingerprint  # a 2-process sweep never skips a run finished with 1 process


@pytest.mark.slow
@pytest.mark.timeout(900)  # two launches when this test sets the session's fixtures up (600 s: setup.cfg's timeout)
def test_two_process_sweep_records_once_and_reruns_identically(two_process_sweep, two_rank_runs):
    # The session's 2-process sweep (tests/conftest.py: ratios 0.5 and 1 of 16 batches per rank, --log mlflow; the
    # tracking tests read its MLflow tree): one launch, the trunk then its branch.
    first, lines, folder = two_process_sweep
    assert first.exit_code == 0 and first.ran == 2, [r.get('error') for r in first.rows]
    assert any('2 processes per run' in line for line in lines)
    assert any('trunk sharing:' in line for line in lines)
    half, full = first.rows
    assert [r['world_size'] for r in first.rows] == [2, 2] and all(r['status'] == 'done' for r in first.rows)
    assert (half['batches'], full['batches']) == (8, 16)  # per rank; samples count both ranks
    assert (half['samples'], full['samples']) == (8 * 128, 16 * 128)
    assert half['branched_from'] == full['run_id']  # the 0.5 run branched from the 1.0 trunk's checkpoint
    assert not os.path.exists(folder / 'launch')  # every attempt folder was removed
    with sqlite3.connect(f'file:{folder / "results.sqlite"}?mode=ro', uri=True) as conn:
        counts = conn.execute('SELECT run_id, COUNT(*), MAX(attempts) FROM runs GROUP BY run_id').fetchall()
    assert sorted(counts) == sorted((r['run_id'], 1, 1) for r in first.rows)  # each recorded once, first attempt

    # The same 0.5 run trained again from scratch as 2 processes under Composer's launcher, by the sweep's own
    # execute_run in each rank (tests/sweep/two_process_rerun.py, a scenario of the session's 2-rank launch, so it
    # costs no launch of its own): it must give exactly the numbers of the branch.
    ranks = two_rank_runs('sweep_rerun')
    for rank in ranks:
        assert rank['status'] == 'done', rank.get('error')
        assert (rank['run_id'], rank['config_hash']) == (half['run_id'], half['config_hash'])
        assert rank['branch_planned'] and rank['branched_from'] is None  # planned as a branch, trunk not there
        assert rank['trained_batches'] == 8 and rank['world_size'] == 2
        assert rank['metrics'] == half['metrics'] and rank['metrics']
        assert (rank['batches'], rank['samples']) == (half['batches'], half['samples'])
