"""Composer 0.32.1's own loggers with the trackers installed here (mlflow 3.x, current wandb), although Composer's
extras pin mlflow<3 and wandb<0.19: a real tiny Trainer logs through each, and a sweep logs to W&B offline."""
import glob
import os

import pytest
import torch
from composer import Trainer

from composer_sched.sweep import SweepTarget, run_sweep
from tests.helpers import tiny_data, tiny_model
from tests.sweep.tracking_helpers import OVERRIDES


def _fit(loggers, batches=4):
    model = tiny_model()
    trainer = Trainer(model=model, train_dataloader=tiny_data(), max_duration=f'{batches}ba', device='cpu',
                      optimizers=torch.optim.SGD(model.parameters(), lr=0.1), loggers=loggers, progress_bar=False,
                      log_to_console=False, run_name='tiny', seed=3)
    trainer.fit()
    trainer.close()


def test_composer_mlflow_logger_with_installed_mlflow(tmp_path, monkeypatch):
    import mlflow
    from composer.loggers import MLFlowLogger
    from mlflow import MlflowClient

    for k in ('MLFLOW_TRACKING_URI', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID', 'MLFLOW_EXPERIMENT_NAME'):
        monkeypatch.delenv(k, raising=False)
    assert int(mlflow.__version__.split('.')[0]) >= 3
    uri = f'sqlite:///{tmp_path}/m.db'
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
                    share_trunks=False)
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
