"""Reliability: a sweep killed with SIGKILL resumes without losing or duplicating runs and gives the same numbers;
a failing run is recorded and does not stop the others."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from composer_sched.sweep import ResultsStore, SweepTarget, plan_sweep, run_sweep

# Runs of 16 and 8 batches, one eval batch: seconds apart, so the kill lands mid-sweep, and the resume and the
# uninterrupted sweep that checks its numbers are short.
OVERRIDES = ['max_duration=16ba', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba']
ARGS = ['sweep', '--ratios', '0.5,1.0', '--seeds', '2', *OVERRIDES]


def _cli(out, **kw):
    cmd = [sys.executable, '-m', 'composer_sched.cli', *ARGS, '--out', str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _done_rows(db):
    if not os.path.exists(db):
        return []
    try:
        conn = sqlite3.connect(db, timeout=1)
        try:
            return conn.execute("SELECT run_id, finished_at FROM runs WHERE status = 'done'").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the table does not exist yet
        return []


@pytest.mark.slow
def test_sigkill_mid_sweep_then_resume_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / 'killed'
    db = str(out / 'results.sqlite')
    proc = _cli(out)
    deadline = time.time() + 240
    while not _done_rows(db):
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline, 'no run finished in time'
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = dict(_done_rows(db))
    assert 1 <= len(before) < 4, 'the kill must land mid-sweep'

    # Restart the same sweep (in this process: the killed one had to be a real separate process).
    lines = []
    target = SweepTarget(None, tuple(OVERRIDES))
    again = run_sweep(target, [0.5, 1.0], 2, out, echo=lines.append, plot=False)
    assert again.exit_code == 0 and again.skipped == len(before) and again.ran == 4 - len(before)
    assert any(f'{len(before)} run(s) already finished' in line for line in lines)
    conn = sqlite3.connect(db)
    rows = conn.execute('SELECT run_id, status, finished_at, attempts FROM runs').fetchall()
    assert len(rows) == 4 and len({r[0] for r in rows}) == 4
    assert all(r[1] == 'done' and r[3] == 1 for r in rows)
    after = {r[0]: r[2] for r in rows}
    assert all(after[k] == v for k, v in before.items())  # finished runs were not trained again

    # Same command, same seeds, uninterrupted: the same numbers.
    clean = tmp_path / 'clean'
    ref = run_sweep(target, [0.5, 1.0], 2, clean, echo=lines.append)
    assert ref.exit_code == 0
    a = {(r['ratio'], r['seed']): (r['batches'], r['metrics']) for r in ResultsStore(db).rows()}
    b = {(r['ratio'], r['seed']): (r['batches'], r['metrics']) for r in ResultsStore(clean / 'results.sqlite').rows()}
    assert a == b and len(a) == 4
    assert all((clean / f).exists() for f in ('results.csv', 'tradeoff.png'))


@pytest.mark.slow
def test_failing_run_is_recorded_and_the_others_finish(tmp_path):
    target = SweepTarget(None, tuple(OVERRIDES))
    plan = plan_sweep(target.load(), [0.5, 1.0], [0], str(tmp_path / 'checkpoints'))
    trunk, branch = plan.runs
    os.makedirs(os.path.dirname(branch.load_from))
    with open(branch.load_from, 'wb') as f:  # a corrupt checkpoint: the branch cannot load it
        f.write(b'not a checkpoint')
    lines = []
    out = run_sweep(target, [0.5, 1.0], 1, tmp_path, echo=lines.append, plot=False)
    assert out.exit_code == 1 and out.failed == [branch.run_id]
    rows = {r['run_id']: r for r in out.rows}
    assert rows[trunk.run_id]['status'] == 'done'
    assert rows[branch.run_id]['status'] == 'failed' and rows[branch.run_id]['error']
    assert any('FAILED' in line for line in lines)
    assert out.report is not None and out.report.summaries[0].ratio == 1.0

    # Rerun: the finished trunk is skipped, the failed run is retried (from scratch: its checkpoint is gone).
    os.remove(branch.load_from)
    out2 = run_sweep(target, [0.5, 1.0], 1, tmp_path, echo=lines.append, plot=False)
    assert out2.exit_code == 0 and out2.skipped == 1 and out2.ran == 1
    rows = {r['run_id']: r for r in out2.rows}
    assert rows[branch.run_id]['status'] == 'done' and rows[branch.run_id]['attempts'] == 2
    assert rows[branch.run_id]['branched_from'] is None
    assert rows[branch.run_id]['trained_batches'] == rows[branch.run_id]['batches']
