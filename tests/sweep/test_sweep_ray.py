"""The Ray backend against a real local Ray: one task per run, results in the same database, same numbers as the
local backend."""
import pytest
import ray  # the 'ray' extra: make test installs it, and a missing Ray must fail, not skip

from composer_sched.sweep import ResultsStore, SweepTarget, run_sweep

TARGET = SweepTarget(None, ('max_duration=1ep', 'schedulers[0].t_warmup=2ba'))


@pytest.fixture(scope='module')
def local_ray():
    # address='local': always a Ray of its own, never one another test, worker or user started on this machine
    ray.init(address='local', num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_backend_matches_local_backend(local_ray, tmp_path):
    lines = []
    out = run_sweep(TARGET, [0.5, 1.0], 1, tmp_path / 'ray', backend='ray', echo=lines.append)
    assert out.exit_code == 0 and out.ran == 2
    assert any('on ray' in line for line in lines)
    rows = ResultsStore(tmp_path / 'ray' / 'results.sqlite').rows()
    assert [r['status'] for r in rows] == ['done', 'done']
    branch = rows[0]
    assert branch['ratio'] == 0.5 and branch['branched_from'] == rows[1]['run_id']  # the trunk ran as its own task
    local = run_sweep(TARGET, [0.5, 1.0], 1, tmp_path / 'local', echo=lines.append)
    assert [(r['run_id'], r['batches'], r['metrics']) for r in local.rows] == \
        [(r['run_id'], r['batches'], r['metrics']) for r in rows]
