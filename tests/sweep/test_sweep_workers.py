"""--workers N: runs train in parallel worker processes and give the same numbers as one in-process worker."""
import pytest

from composer_sched.sweep import ResultsStore, SweepTarget, run_sweep
from tests.sweep.tracking_helpers import OVERRIDES, RATIOS


@pytest.mark.slow
def test_two_workers_match_one(two_worker_sweep, tmp_path):
    # The parallel sweep is the CLI's `sweep --workers 2 --no-share` of tests/sweep/conftest.py (its recipe also
    # logs to MLflow: loggers are not part of the recipe's fingerprint, nor of its numbers); here the same sweep
    # in this process, one run after the other.
    proc, out, _ = two_worker_sweep
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '2 run(s) to train on local with 2 workers' in proc.stdout
    assert 'trunk sharing is off' in proc.stdout
    par = ResultsStore(out / 'results.sqlite').rows()
    seq = run_sweep(SweepTarget(None, OVERRIDES), RATIOS, 1, tmp_path / 'seq', share_trunks=False,
                    echo=lambda line: None, plot=False)
    assert seq.exit_code == 0 and seq.ran == 2
    key = [(r['run_id'], r['batches'], r['trained_batches'], r['metrics']) for r in par]
    assert len(key) == 2 and key == [(r['run_id'], r['batches'], r['trained_batches'], r['metrics']) for r in seq.rows]
    assert all(r['status'] == 'done' and r['branched_from'] is None and r['trained_batches'] == r['batches']
               for r in par)
