"""Composer 0.32.1's own loggers with the trackers installed here (mlflow 3.x, current wandb), although Composer's
extras pin mlflow<3 and wandb<0.19: a real tiny Trainer logs through each, and a sweep logs to W&B offline."""
import glob
import os

import pytest
import torch
from composer import Trainer

from composer_sched.sweep import SweepTarget, run_sweep
from tests.helpers import tiny_data, tiny_model
from tests.sweep.tracking_helpers import OVERRIDES, no_user_tracker


def _seeded(path, monkeypatch, tmp_path_factory) -> str:
    """The URI of a new local MLflow store at ``path``, a copy of the migrated empty one the sweeps start theirs
    from (this session's cache): MLflow's own ~100 schema migrations of a new SQLite file are seconds of fsyncs,
    and what these tests check is what is written after."""
    from composer_sched.sweep.tracking import _seed_store

    no_user_tracker(monkeypatch, tmp_path_factory)
    _seed_store(None, str(path))
    assert os.path.isfile(path)  # else MLflow migrates a new store itself: still right, only slower
    return f'sqlite:///{path}'


def _fit(loggers, batches=4):
    model = tiny_model()
    trainer = Trainer(model=model, train_dataloader=tiny_data(), max_duration=f'{batches}ba', device='cpu',
                      optimizers=torch.optim.SGD(model.parameters(), lr=0.1), loggers=loggers, progress_bar=False,
                      log_to_console=False, run_name='tiny', seed=3)
    trainer.fit()
    trainer.close()


def test_composer_mlflow_logger_with_installed_mlflow(tmp_path, monkeypatch, tmp_path_factory):
    import mlflow
    from composer.loggers import MLFlowLogger
    from mlflow import MlflowClient

    assert int(mlflow.__version__.split('.')[0]) >= 3
    uri = _seeded(tmp_path / 'm.db', monkeypatch, tmp_path_factory)  # and no MLFLOW_* of the user's
    _fit([MLFlowLogger(experiment_name='compat', tracking_uri=uri, tags={'team': 'x'}, log_system_metrics=False,
                       synchronous=True)])
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name('compat').experiment_id])
    assert run.info.status == 'FINISHED' and run.data.tags['team'] == 'x' and run.data.tags['run_name'] == 'tiny'
    steps = [m.step for m in client.get_metric_history(run.info.run_id, 'loss/train/total')]
    assert steps == [0, 1, 2, 3]
    assert run.data.params['num_nodes'] == '1'


def _records(folder) -> list[bytes]:
    """The raw bytes of every offline W&B run log under ``folder`` (protobuf keeps strings as they are)."""
    out = []
    for path in sorted(glob.glob(os.path.join(folder, 'wandb', 'offline-run-*', 'run-*.wandb'))):
        if '-sweep-summary-' in path:  # the sweep's summary run (tests/sweep/test_sweep_tracking.py reads it)
            continue
        with open(path, 'rb') as f:
            out.append(f.read())
    return out


@pytest.mark.slow
def test_sweep_logs_to_wandb_offline_through_composer_logger(tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv('WANDB_MODE', 'offline')
    monkeypatch.delenv('WANDB_API_KEY', raising=False)
    assert tuple(int(x) for x in wandb.__version__.split('.')[:2]) >= (0, 19)
    out = tmp_path / 'sweep'
    lines = []
    res = run_sweep(SweepTarget(None, OVERRIDES), [0.5, 1.0], 1, out, log='wandb', echo=lines.append,
                    share_trunks=False, plot=False)
    assert res.exit_code == 0 and not any('logged partly' in line for line in lines)
    group = f'digits-cnn-wsd-{res.rows[0]["config_hash"]}'
    assert any(f"group '{group}'" in line for line in lines)
    logs = _records(out)
    assert len(logs) == 2
    for ratio, data in zip(('0.5', '1'), sorted(logs, key=lambda d: b'ratio=1' in d)):
        assert group.encode() in data and f'ratio={ratio}'.encode() in data and b'seed=0' in data
        assert b'loss/train/total' in data and b'composer-sched' in data  # Composer's metrics, our project
    dirs = sorted(os.path.basename(p) for p in glob.glob(str(out / 'wandb' / 'offline-run-*'))
                  if '-sweep-summary-' not in p)
    ids = sorted(d.split('-', 3)[3] for d in dirs)  # offline-run-<time>-<id>
    assert all(i.startswith(res.rows[0]['config_hash']) for i in ids)  # stable ids: the sqlite run id, hashed


def test_local_store_metrics_in_one_statement_are_what_mlflows_log_batch_writes(tmp_path, monkeypatch,
                                                                              tmp_path_factory):
    # The sweep writes a local SQLite store's metric points through MLflow's own table model in one INSERT
    # (tracking._sqlite_metrics) instead of log_batch's ORM object per point: the same history, latest values, NaN
    # handling, duplicates ignored, and the same refusals, read back through MlflowClient. Fails when MLflow's
    # schema or rules change under it.
    import math

    from mlflow import MlflowClient
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    from composer_sched.sweep.tracking import _log_batches, _sqlite_metrics

    client = MlflowClient(_seeded(tmp_path / 'm.db', monkeypatch, tmp_path_factory))
    exp = client.create_experiment('x', artifact_location=f'file://{tmp_path}/a')
    theirs, ours = (client.create_run(exp).info.run_id for _ in range(2))
    keys = ('loss/train/total', 'lr-SGD/group0', 'frac/loss/train/total', 'time/batch')
    # out of order, a NaN, a repeated step with a later timestamp, an exact duplicate, a negative value
    points = [(k, float((7 * i) % 11) - 3, 1000 + i, i) for i in (3, 0, 2, 1, 4) for k in keys]
    points += [('loss/train/total', math.nan, 2000, 5), ('lr-SGD/group0', 0.5, 3000, 4), points[0]]
    for run, how in ((theirs, 'mlflow'), (ours, 'fast')):
        for half in (points[:9], points[9:], points[4:12]):  # overlapping sends: a resend after a failure
            if how == 'mlflow':
                client.log_batch(run, metrics=[Metric(*p) for p in half])
            else:
                assert _sqlite_metrics(client, run, half)

    def seen(run):
        latest = {k: ('nan' if math.isnan(v) else v) for k, v in client.get_run(run).data.metrics.items()}
        history = {k: sorted((m.step, m.timestamp, str(m.value)) for m in client.get_metric_history(run, k))
                   for k in keys}
        return latest, history

    assert seen(ours) == seen(theirs)
    assert len(seen(ours)[1]['loss/train/total']) == 6 and seen(ours)[0]['loss/train/total'] == 'nan'
    _log_batches(client, ours, metrics=[('time/batch', 9.0, 4000, 9)], params=[('p', 'v')], tags=[('t', 'u')])
    run = client.get_run(ours).data
    assert (run.metrics['time/batch'], run.params['p'], run.tags['t']) == (9.0, 'v', 'u')
    client.set_terminated(ours)
    client.delete_run(ours)

    def refusal(fn):
        with pytest.raises(MlflowException) as e:
            fn()
        return str(e.value).replace(ours, 'RUN').replace(theirs, 'RUN')

    for run, bad in ((ours, ('time/batch', 1.0, 5000, 10)), (theirs, ('time/batch', 1.0, -1, 10))):
        # a deleted run; a negative timestamp: the same refusal as log_batch's, nothing written
        assert refusal(lambda: _sqlite_metrics(client, run, [bad])) == \
            refusal(lambda: client.log_batch(run, metrics=[Metric(*bad)]))
    assert seen(theirs)[1]['time/batch'] == seen(ours)[1]['time/batch'][:-1]


def test_local_store_journal_commits_unsynced_then_settles_into_a_rollback_store(tmp_path, monkeypatch,
                                                                                tmp_path_factory):
    # The sweep's own local store (runs on this machine) commits into a WAL journal during the sweep (no fsync per
    # commit: tracking._journal) and, at its end, is written back into one synced file with MLflow's usual rollback
    # journal (tracking._settle), before the driver drops its copies. The SCHEDULED marks are one UPDATE
    # (tracking._set_status) with update_run's result. Read back through a raw SQLite connection and a new client.
    import sqlite3

    from mlflow import MlflowClient

    from composer_sched.sweep.tracking import _journal, _log_and_end, _set_status, _settle

    db = tmp_path / 'mlflow.db'
    client = MlflowClient(_seeded(db, monkeypatch, tmp_path_factory))
    exp = client.create_experiment('x', artifact_location=f'file://{tmp_path}/a')

    def mode():
        conn = sqlite3.connect(db)
        try:
            return conn.execute('PRAGMA journal_mode').fetchone()[0]
        finally:
            conn.close()

    assert mode() == 'delete'
    _journal(client, True)
    runs = [client.create_run(exp).info.run_id for _ in range(3)]
    assert mode() == 'wal' and os.path.exists(f'{db}-wal')
    client.delete_run(runs[2])
    _set_status(client, runs, 'SCHEDULED')
    assert [client.get_run(r).info.status for r in runs] == ['SCHEDULED', 'SCHEDULED', 'RUNNING']  # not a deleted one
    _log_and_end(client, runs[0], 'FINISHED', metrics=[('loss', 0.5, 1000, 3)], params=[('p', 'v')], tags=[('t', 'u')])
    _settle(client)
    assert mode() == 'delete' and not os.path.exists(f'{db}-wal')
    again = MlflowClient(f'sqlite:///{tmp_path}/./mlflow.db')  # another store object (MLflow keeps one per URI)
    run = again.get_run(runs[0])
    assert (run.info.status, run.data.metrics, run.data.params, run.data.tags['t']) == \
        ('FINISHED', {'loss': 0.5}, {'p': 'v'}, 'u')
    assert run.info.end_time is not None and again.get_run(runs[1]).info.status == 'SCHEDULED'
    _journal(client, False)  # runs on other machines: MLflow's rollback journal, fsynced at every commit
    client.set_terminated(runs[1])
    assert mode() == 'delete' and not os.path.exists(f'{db}-wal')
