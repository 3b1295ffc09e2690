"""--workers N: runs train in parallel worker processes and give the same numbers as one in-process worker."""
import pytest

from composer_sched.sweep import SweepTarget, run_sweep

TARGET = SweepTarget(None, ('max_duration=1ep', 'schedulers[0].t_warmup=2ba'))


@pytest.mark.slow
def test_two_workers_match_one(tmp_path):
    lines = []
    par = run_sweep(TARGET, [0.5, 1.0], 1, tmp_path / 'par', workers=2, share_trunks=False, echo=lines.append)
    assert par.exit_code == 0 and par.ran == 2
    assert any('with 2 workers' in line for line in lines)
    assert any('trunk sharing is off' in line for line in lines)
    seq = run_sweep(TARGET, [0.5, 1.0], 1, tmp_path / 'seq', share_trunks=False, echo=lines.append)
    key = [(r['run_id'], r['batches'], r['trained_batches'], r['metrics']) for r in par.rows]
    assert key == [(r['run_id'], r['batches'], r['trained_batches'], r['metrics']) for r in seq.rows]
    assert all(r['branched_from'] is None and r['trained_batches'] == r['batches'] for r in par.rows)
