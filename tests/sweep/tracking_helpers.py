"""Real MLflow for the tracking tests: an ``mlflow server`` on a free loopback port, and a sweep's run tree read
back through ``MlflowClient`` and checked whole (:func:`check_tree`: tests/sweep/test_sweep_tracking.py's backends,
and the Ray backend's in tests/cluster/test_ray_nodes.py, on the Ray its other tests use)."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from composer_sched.sweep import ResultsStore
from tests.launch import free_port

#: A sweep small enough for tests: 16 batches of the bundled digits recipe at ratio 1, one eval batch.
OVERRIDES = ('max_duration=16ba', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba')
RATIOS = [0.5, 1.0]
PARENT_FILES = ['recipe.yaml', 'report.txt', 'results.csv', 'schedules.png', 'tradeoff.png']
#: a user's own tracker: what the tracking tests' user does not have set
USER_TRACKER_VARS = ('MLFLOW_TRACKING_URI', 'MLFLOW_EXPERIMENT_NAME', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID')


def no_user_tracker(monkeypatch, tmp_path_factory) -> None:
    """Be a user with no tracker of their own: no ``MLFLOW_*`` variables, and this session's cache folder (the
    migrated empty MLflow store sweeps copy is made once per session and pytest-xdist worker, not in ~)."""
    cache = tmp_path_factory.getbasetemp() / 'xdg-cache'
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv('XDG_CACHE_HOME', str(cache))
    for k in USER_TRACKER_VARS:
        monkeypatch.delenv(k, raising=False)


def assert_nothing_in(cwd):
    """mlflow 3 opens ``sqlite:///mlflow.db`` in the working folder whenever it is used without a tracking URI
    (mlflow 2: ``./mlruns``): no code path of a sweep may do that."""
    assert sorted(os.listdir(cwd)) == [], f'a sweep wrote into the working folder {cwd}'


def local_uri(out) -> str:
    """The sweep folder ``out``'s own MLflow store (where ``--log mlflow`` writes without a tracking URI)."""
    return f'sqlite:///{os.path.abspath(out)}/mlflow.db'


def check_tree(uri, out, experiment='digits-cnn-wsd', seeds=(0,), shared=True):
    """The whole tree a finished 2-ratio sweep must have (``shared=False``: a ``--no-share`` sweep's, every run
    trained on its own); returns (client, parent, children)."""
    client, parent, children = sweep_tree(uri, experiment)
    rows = {(r['ratio'], r['seed']): r for r in ResultsStore(os.path.join(out, 'results.sqlite')).rows()}
    assert sorted(children) == sorted(rows) == [(r, s) for r in RATIOS for s in seeds]
    assert parent.info.status == 'FINISHED'
    tags = parent.data.tags
    assert tags['ratios'] == '0.5,1' and tags['seeds'] == ','.join(map(str, seeds))
    assert tags['fingerprint'] == rows[(1.0, 0)]['config_hash'] and tags['recommended_ratio'] in ('0.5', '1')
    assert sorted(a.path for a in client.list_artifacts(parent.info.run_id)) == PARENT_FILES
    assert parent.data.params['max_duration'] == '16ba' and parent.data.params['schedulers.0.name'] == 'wsd'
    mean = sum(rows[(1.0, s)]['metrics']['MulticlassAccuracy'] for s in seeds) / len(seeds)
    assert parent.data.metrics['r1/MulticlassAccuracy_mean'] == pytest.approx(mean)
    assert parent.data.metrics['r0.5/cost_batches'] == 8
    for (ratio, seed), child in children.items():
        row = rows[(ratio, seed)]
        assert child.info.status == 'FINISHED' and child.data.tags['status'] == 'done'
        assert child.data.tags['composer_sched.run_id'] == row['run_id']
        assert child.data.metrics['final/MulticlassAccuracy'] == pytest.approx(row['metrics']['MulticlassAccuracy'])
        # Composer's MLFlowLogger curves, and the same against thousandths of the budget
        loss = client.get_metric_history(child.info.run_id, 'loss/train/total')
        frac = client.get_metric_history(child.info.run_id, 'frac/loss/train/total')
        # the whole run, a branch's too (Composer's step: batches before); a branch's first batches are its trunk's
        assert sorted(m.step for m in loss) == list(range(row['batches']))
        assert sorted(m.step for m in frac) == sorted(round(1000 * m.step / row['batches']) for m in loss)
        evals = client.get_metric_history(child.info.run_id, 'frac/metrics/eval/MulticlassAccuracy')
        assert max(m.step for m in evals) == 1000  # the final eval, at the whole budget whatever the ratio
        assert 'lr-SGD/group0' in child.data.metrics and 'metrics/eval/MulticlassAccuracy' in child.data.metrics
    if not shared:
        assert all((c.data.tags['trunk'], c.data.tags['branch_batch']) == ('none', '0') for c in children.values())
        assert not any(r['branched_from'] for r in rows.values())
        return client, parent, children
    for seed in seeds:
        trunk, branch = children[(1.0, seed)], children[(0.5, seed)]
        assert trunk.data.tags['trunk'] == 'self'
        if rows[(0.5, seed)]['branched_from']:
            cut = rows[(0.5, seed)]['branch_batch']
            assert branch.data.tags['trunk'] == rows[(1.0, seed)]['run_id']
            assert branch.data.tags['trunk_mlflow_run'] == trunk.info.run_id
            assert branch.data.tags['branch_batch'] == str(cut) and cut > 0
            assert branch.data.tags['curve_before_branch'] == 'from the trunk'
            for key in ('loss/train/total', 'lr-SGD/group0'):  # the trunk's points before the branch, as they were
                mine = {m.step: m.value for m in client.get_metric_history(branch.info.run_id, key)}
                theirs = {m.step: m.value for m in client.get_metric_history(trunk.info.run_id, key)}
                assert {k: v for k, v in mine.items() if k < cut} == {k: v for k, v in theirs.items() if k < cut}
        else:  # its trunk's checkpoint was missing: trained from scratch, and tagged so
            assert (branch.data.tags['trunk'], branch.data.tags['branch_batch']) == ('none', '0')
    return client, parent, children


@contextlib.contextmanager
def mlflow_server(folder):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and artifacts in ``folder``; yields ``(uri, process)``
    and stops it (the whole process group) on leaving. Its store starts as the migrated empty one the sweeps copy
    (``XDG_CACHE_HOME``'s), so the server runs no schema migrations, and without mlflow 3's job execution (a job
    runner and seven huey consumers, each importing mlflow: half the server's start-up CPU, and nothing a tracking
    client calls)."""
    from composer_sched.sweep.tracking import _seed_store

    port = free_port()
    _seed_store(None, os.path.join(folder, 'server.db'))  # on any failure the server migrates a new one itself
    log = open(os.path.join(folder, 'server.log'), 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', str(port),
                             '--workers', '1', '--backend-store-uri', f'sqlite:///{folder}/server.db',
                             '--artifacts-destination', os.path.join(folder, 'artifacts')],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION': 'false'})
    uri = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine takes half a minute
        while True:
            try:
                with urllib.request.urlopen(f'{uri}/health', timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError('mlflow server did not start: ' + open(log.name).read()[-2000:])
            time.sleep(0.5)
        yield uri, proc
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the server's process group (``sig``), and wait for it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sweep_tree(uri: str, experiment: str = 'digits-cnn-wsd') -> tuple:
    """``(client, parent run, {(ratio, seed): child run})`` of the experiment's one sweep (asserted one)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f'no experiment {experiment!r} at {uri}'
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if 'mlflow.parentRunId' not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    parent = parents[0]
    children = {}
    for r in runs:
        if r.data.tags.get('mlflow.parentRunId') == parent.info.run_id:
            key = (float(r.data.tags['ratio']), int(r.data.tags['seed']))
            assert key not in children, f'two children for {key}'
            children[key] = r
    assert len(children) == len(runs) - 1, 'a run of the experiment is not under the parent (an orphan)'
    return client, parent, children


def shape(uri: str) -> dict:
    """What must be the same whatever the backend: per (ratio, seed) the child's status, tags and metric keys."""
    client, parent, children = sweep_tree(uri)
    out = {'parent': (parent.info.status, parent.data.tags['ratios'], parent.data.tags['recommended_ratio'],
                      sorted(a.path for a in client.list_artifacts(parent.info.run_id)))}
    for key, r in sorted(children.items()):
        out[key] = (r.info.status, r.data.tags['status'], r.data.tags['trunk'] != 'none',
                    sorted(k for k in r.data.metrics if not k.startswith('system/')))
    return out
