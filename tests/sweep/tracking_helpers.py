"""Real MLflow for the tracking tests: an ``mlflow server`` on a free loopback port, and a sweep's run tree read
back through ``MlflowClient``."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.launch import free_port

#: A sweep small enough for tests: 16 batches of the bundled digits recipe at ratio 1, one eval batch.
OVERRIDES = ('max_duration=16ba', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba')


@contextlib.contextmanager
def mlflow_server(folder):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and artifacts in ``folder``; yields ``(uri, process)``
    and stops it (the whole process group) on leaving."""
    port = free_port()
    log = open(os.path.join(folder, 'server.log'), 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', str(port),
                             '--workers', '1', '--backend-store-uri', f'sqlite:///{folder}/server.db',
                             '--artifacts-destination', os.path.join(folder, 'artifacts')],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
