"""--log mlflow: one parent run per sweep, a child per run, read back through MlflowClient from a real local store
and a real ``mlflow server``; reruns add nothing, a retried run reuses its failed child, every backend gives the
same tree (the Ray backend's: tests/cluster/test_ray_nodes.py, on the Ray its other tests use), and a tracker that
is down stops the sweep before training or never costs a result."""
import glob
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from composer_sched.cli import main
from composer_sched.sweep import ResultsStore, SweepTarget, plan_sweep, run_sweep
from composer_sched.sweep.tracking import parse_log
from tests.launch import free_port
from tests.sweep.tracking_helpers import (
    OVERRIDES,
    PARENT_FILES,
    RATIOS,
    assert_nothing_in,
    check_tree,
    local_uri,
    mlflow_server,
    no_user_tracker,
    stop,
    sweep_tree,
)

TARGET = SweepTarget(None, OVERRIDES)
# Sweeps whose PNGs no check reads pass plot=False: drawing the two is about a second per sweep, half a warm
# in-process sweep of TARGET. check_tree's parent artifacts (PARENT_FILES) need them.


@pytest.fixture(autouse=True)
def _no_user_tracker(monkeypatch, tmp_path_factory, tmp_path):
    no_user_tracker(monkeypatch, tmp_path_factory)
    cwd = tmp_path / 'cwd'  # where the user stands: a sweep writes only into its --out (or the user's tracker)
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield
    assert_nothing_in(cwd)


def history_sizes(client, parent, children) -> dict:
    runs = [parent, *children.values()]
    return {(r.info.run_id, k): len(client.get_metric_history(r.info.run_id, k))
            for r in runs for k in ('r1/MulticlassAccuracy_mean', 'final/MulticlassAccuracy', 'loss/train/total')}


@pytest.mark.slow
def test_local_store_tree_retry_reuses_failed_child_and_rerun_adds_nothing(tmp_path):
    out = tmp_path / 'sweep'
    plan = plan_sweep(TARGET.load(), RATIOS, [0], str(out / 'checkpoints'))
    trunk, branch = plan.runs
    os.makedirs(os.path.dirname(branch.load_from))
    with open(branch.load_from, 'wb') as f:  # a corrupt checkpoint: the branch fails
        f.write(b'not a checkpoint')
    lines = []
    first = run_sweep(TARGET, RATIOS, 1, out, log='mlflow', echo=lines.append, plot=False)
    assert first.exit_code == 1 and first.failed == [branch.run_id]
    # Composer's logger sets MLFLOW_TRACKING_URI in-process: left set, the next sweep would log to this store
    assert 'MLFLOW_TRACKING_URI' not in os.environ and 'MLFLOW_RUN_ID' not in os.environ
    assert any('logging to MLflow' in line and 'mlflow ui --backend-store-uri' in line for line in lines)
    client, parent, children = sweep_tree(local_uri(out))
    failed = children[(0.5, 0)]
    assert failed.info.status == 'FAILED' and failed.data.tags['status'] == 'failed'
    assert 'not a checkpoint' in failed.data.tags['error'] or failed.data.tags['error']
    assert parent.info.status == 'FAILED' and parent.data.tags['failed'] == '1'

    os.remove(branch.load_from)
    second = run_sweep(TARGET, RATIOS, 1, out, log=['mlflow'], echo=lines.append)
    assert second.exit_code == 0 and second.ran == 1
    client, parent2, children2 = check_tree(local_uri(out), str(out))
    assert parent2.info.run_id == parent.info.run_id
    assert {k: r.info.run_id for k, r in children2.items()} == {k: r.info.run_id for k, r in children.items()}
    assert children2[(0.5, 0)].data.tags['attempts'] == '2'
    # the ids are in our database, one MLflow run per sqlite run
    with sqlite3.connect(out / 'results.sqlite') as db:
        mapped = dict(db.execute("SELECT key, tracker_run_id FROM tracked WHERE tracker = 'mlflow'"))
    assert mapped == {f'sweep:{first.rows[0]["config_hash"]}': parent.info.run_id,
                      **{r.data.tags['composer_sched.run_id']: r.info.run_id for r in children2.values()}}

    before = history_sizes(client, parent2, children2)
    third = run_sweep(TARGET, RATIOS, 1, out, log='mlflow', echo=lines.append, plot=False)
    assert third.ran == 0
    client, parent3, children3 = sweep_tree(local_uri(out))
    assert history_sizes(client, parent3, children3) == before  # the rerun added no run and no point


@pytest.mark.slow
def test_mlflow_server_tree_then_server_dies_mid_sweep_then_is_down(tmp_path, monkeypatch, capsys):
    with mlflow_server(str(tmp_path)) as (uri, proc):
        monkeypatch.setenv('MLFLOW_TRACKING_URI', uri)
        out = tmp_path / 'sweep'
        assert main(['sweep', '--ratios', '0.5,1', '--out', str(out), '--log', 'mlflow', '--no-share', *OVERRIDES]) \
            == 0
        printed = capsys.readouterr().out
        assert 'View run' not in printed and f'at {uri}' in printed
        client, parent, children = sweep_tree(uri)
        assert sorted(children) == [(0.5, 0), (1.0, 0)] and parent.info.status == 'FINISHED'
        assert sorted(a.path for a in client.list_artifacts(parent.info.run_id)) == PARENT_FILES
        assert all(c.data.tags['trunk'] == 'none' and c.info.status == 'FINISHED' for c in children.values())
        assert all('loss/train/total' in c.data.metrics for c in children.values())
        assert not (out / 'mlflow.db').exists()  # the server's store, not the local default

        # The server dies after the first run is recorded: the other run still trains and is recorded.
        lines = []

        def echo(line):
            lines.append(line)
            if line.startswith('[1/2 done'):
                stop(proc, signal.SIGKILL)

        dead = run_sweep(TARGET, [0.25, 1.0], 1, tmp_path / 'dies', log='mlflow', echo=echo, share_trunks=False,
                         plot=False)
        assert dead.exit_code == 0 and [r['status'] for r in dead.rows] == ['done', 'done']
        assert len(ResultsStore(tmp_path / 'dies' / 'results.sqlite').rows()) == 2
        assert sum('every result is in results.sqlite' in line for line in lines) == 1
        # what the runs logged that the dead server never got is kept with their rows, for the next sweep to send
        pending = ResultsStore(tmp_path / 'dies' / 'results.sqlite').pending('mlflow', f'{uri}#digits-cnn-wsd')
        assert pending and all(any(p[0] == 'loss/train/total' for p in v['metrics']) for v in pending.values())

    # Nothing answers at the URI now: one line, exit 2, before any training.
    fresh = tmp_path / 'down'
    assert main(['sweep', '--ratios', '0.5,1', '--out', str(fresh), '--log', 'mlflow', *OVERRIDES]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error: --log mlflow:') and uri in err and '\n' not in err
    assert not ResultsStore(fresh / 'results.sqlite').rows()


@pytest.mark.parametrize('uri', ['bogus://nowhere', 'http://127.0.0.1:{port}'])
def test_unreachable_tracker_is_one_line_and_exit_2_before_training(uri, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MLFLOW_TRACKING_URI', uri.format(port=free_port()))
    out = tmp_path / 'out'
    assert main(['sweep', '--ratios', '0.5,1', '--out', str(out), '--log', 'mlflow', *OVERRIDES]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error: --log mlflow: the tracker at') and '\n' not in err
    assert not ResultsStore(out / 'results.sqlite').rows()


def test_log_names_are_checked(tmp_path, capsys):
    assert parse_log('mlflow, wandb') == ('mlflow', 'wandb') and parse_log('') == ()
    with pytest.raises(ValueError, match="--log='tensorboard' is not allowed"):
        parse_log('mlflow,tensorboard')
    assert main(['sweep', '--out', str(tmp_path), '--log', 'mlfow', *OVERRIDES]) == 2
    assert "--log='mlfow' is not allowed" in capsys.readouterr().err


def test_cli_starts_without_mlflow_or_wandb():
    code = ('import sys, argparse; from composer_sched.cli import sweep; p = argparse.ArgumentParser(); '
            'sweep.add_arguments(p); p.parse_args(["--log", "mlflow"]); '
            'print(sorted(m for m in ("mlflow", "wandb") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


@pytest.mark.slow
def test_two_workers_and_recipe_loggers_mlflow_give_the_same_tree_and_nothing_in_the_cwd(two_worker_sweep):
    # No --log: the recipe's loggers.mlflow asks for it, with its experiment and tags; its own MLFlowLogger is
    # switched off in the runs (else each run would also be a top-level run: sweep_tree finds no orphan).
    # Through the CLI in a process of its own, standing in a folder of its own (tests/sweep/conftest.py): the
    # workers' and the driver's exits (Composer closes every Trainer's loggers again at interpreter exit) must not
    # open mlflow's default store there, as they once did (an mlflow.db with experiment team-sweeps in the
    # repository's root). The workers test reads the same sweep's rows.
    proc, out, cwd = two_worker_sweep
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_nothing_in(cwd)
    _, parent, children = check_tree(local_uri(out), str(out), experiment='team-sweeps', shared=False)
    assert parent.data.tags['workers'] == '2' and parent.data.tags['team'] == 'sched'
    assert all(c.data.tags['team'] == 'sched' for c in children.values())


@pytest.mark.slow
def test_two_processes_per_run_log_from_rank_0_only(two_process_sweep):
    res, _, out = two_process_sweep  # RATIOS of OVERRIDES, 2 processes per run, --log mlflow (tests/conftest.py)
    assert res.exit_code == 0 and all(r['world_size'] == 2 for r in res.rows)
    _, parent, children = check_tree(local_uri(out), str(out))  # one child per run: rank 1 logged nothing
    assert parent.data.tags['procs_per_run'] == '2'
    assert all(c.data.tags['world_size'] == '2' for c in children.values())


@pytest.mark.slow
def test_predicted_rows_are_children_tagged_predicted_and_wandb_has_the_sweep_summary(tmp_path, monkeypatch):
    monkeypatch.setenv('WANDB_MODE', 'offline')  # W&B without an account: read back from its offline run files
    monkeypatch.delenv('WANDB_API_KEY', raising=False)
    target = SweepTarget(None, ('max_duration=2ep', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba'))
    out = tmp_path / 'pred'
    res = run_sweep(target, RATIOS, 1, out, predict='only', log='mlflow,wandb', echo=lambda line: None)
    assert res.exit_code == 0
    _, parent, children = sweep_tree(local_uri(out))
    pred, trained = children[(0.5, 0)], children[(1.0, 0)]
    row = next(r for r in res.rows if r['predicted'])
    assert pred.data.tags['predicted'] == 'true' and 'predicted' not in trained.data.tags
    assert pred.data.metrics['predicted/loss'] == pytest.approx(row['prediction']['loss'])
    assert pred.data.metrics['predicted/low'] <= pred.data.metrics['predicted/loss'] <= \
        pred.data.metrics['predicted/high']
    assert 'r0.5_predicted/MulticlassAccuracy_mean' in parent.data.metrics and parent.data.tags['predicted_runs'] == '1'

    # W&B: the group's summary run (the parent's counterpart) with the per-ratio table, the recommendation, the files
    fingerprint = res.rows[0]['config_hash']
    (summary,) = glob.glob(str(out / 'wandb' / 'offline-run-*-sweep-summary-*'))
    with open(glob.glob(os.path.join(summary, 'run-*.wandb'))[0], 'rb') as f:
        data = f.read()  # protobuf keeps strings as they are
    assert f'digits-cnn-wsd-{fingerprint}'.encode() in data and b'sweep-summary' in data
    assert b'recommended_ratio' in data and b'frontier' in data
    (table,) = glob.glob(os.path.join(summary, 'files', 'media', 'table', 'ratios_*.table.json'))
    with open(table) as f:
        table = json.load(f)
    got = {r[0]: dict(zip(table['columns'], r)) for r in table['data']}
    assert sorted(got) == RATIOS and got[0.5]['predicted'] is True and got[1.0]['predicted'] is False
    measured = next(r for r in res.rows if not r['predicted'])
    assert got[1.0]['MulticlassAccuracy_mean'] == pytest.approx(measured['metrics']['MulticlassAccuracy'])
    assert got[0.5]['cost_batches'] == row['batches']
    files = sorted(os.listdir(os.path.join(summary, 'files')))
    assert {'results.csv', 'report.txt', 'recipe.yaml', 'tradeoff.png', 'schedules.png'} <= set(files)
    here = os.path.join(out, f'digits-cnn-wsd-{fingerprint}')
    with open(os.path.join(summary, 'files', 'results.csv')) as a, open(os.path.join(here, 'results.csv')) as b:
        assert a.read() == b.read()


def test_a_long_run_sends_while_it_trains_and_the_rest_with_its_row(tmp_path, monkeypatch):
    # A run longer than LIVE_SECONDS sends from its own thread while it trains (here: every 50 ms); what it had not
    # sent when it ended comes with its row: the curve is whole, each point once, the child RUNNING then FINISHED.
    from composer_sched.sweep import tracking

    monkeypatch.setattr(tracking, 'LIVE_SECONDS', 0.05)
    out = tmp_path / 'live'
    res = run_sweep(TARGET, [1.0], 1, out, log='mlflow', echo=lambda line: None, plot=False)
    assert res.exit_code == 0
    client, parent, children = sweep_tree(local_uri(out))
    child = children[(1.0, 0)]
    assert child.info.status == 'FINISHED' and child.data.tags['status'] == 'done'
    loss = client.get_metric_history(child.info.run_id, 'loss/train/total')
    assert [m.step for m in sorted(loss, key=lambda m: m.step)] == list(range(res.rows[0]['batches']))
    assert child.data.params['mlflow_run_id'] == child.info.run_id and child.data.tags['run_name']
    assert not ResultsStore(out / 'results.sqlite').pending('mlflow', f'{local_uri(out)}#digits-cnn-wsd')


def test_what_a_tracker_missed_is_kept_in_results_sqlite_and_sent_by_the_rerun(tmp_path, monkeypatch):
    # The tracker fails as the driver logs the run (as if it went down, or the driver died then): the result and
    # the run's curve are kept in results.sqlite; the rerun of the same command, which trains nothing, sends them.
    from composer_sched.sweep import tracking

    def down(self, spec, row):
        raise ConnectionError('the tracker went away')

    out, location = tmp_path / 'missed', f'{local_uri(tmp_path / "missed")}#digits-cnn-wsd'
    with monkeypatch.context() as m:
        m.setattr(tracking._Mlflow, 'recorded', down)
        lines = []
        first = run_sweep(TARGET, [1.0], 1, out, log='mlflow', echo=lines.append, plot=False)
    assert first.exit_code == 0 and sum('every result is in results.sqlite' in line for line in lines) == 1
    store = ResultsStore(out / 'results.sqlite')
    assert [r['status'] for r in store.rows()] == ['done'] and list(store.pending('mlflow', location))
    second = run_sweep(TARGET, [1.0], 1, out, log='mlflow', echo=lambda line: None, plot=False)
    assert second.ran == 0 and not store.pending('mlflow', location)
    client, _, children = sweep_tree(local_uri(out))
    child = children[(1.0, 0)]
    assert child.info.status == 'FINISHED' and child.data.tags['status'] == 'done'
    loss = client.get_metric_history(child.info.run_id, 'loss/train/total')
    assert sorted(m.step for m in loss) == list(range(first.rows[0]['batches']))


@pytest.mark.slow
def test_a_run_extending_a_trunk_an_earlier_sweep_logged_copies_its_prefix_back_from_mlflow(tmp_path):
    # The first sweep trains ratio 1 (and keeps its stable-phase checkpoint); the second adds ratio 2, whose run
    # continues that checkpoint: its child must hold the trunk's curve before the branch batch, which this sweep
    # never saw (the trunk's points came with the first sweep's rows), so it is read back from MLflow.
    out = tmp_path / 'grow'
    first = run_sweep(TARGET, RATIOS, 1, out, log='mlflow', echo=lambda line: None, plot=False)
    second = run_sweep(TARGET, [*RATIOS, 2.0], 1, out, log='mlflow', echo=lambda line: None, plot=False)
    assert first.exit_code == second.exit_code == 0 and second.ran == 1
    rows = {r['ratio']: r for r in second.rows}
    grown, trunk_row = rows[2.0], rows[1.0]
    cut = grown['branch_batch']
    assert grown['branched_from'] == trunk_row['run_id'] and 0 < cut < trunk_row['batches'] < grown['batches']
    client, _, children = sweep_tree(local_uri(out))
    branch, trunk = children[(2.0, 0)], children[(1.0, 0)]
    assert branch.data.tags['trunk_mlflow_run'] == trunk.info.run_id
    assert branch.data.tags['curve_before_branch'] == 'from the trunk' and branch.data.tags['branch_batch'] == str(cut)
    for key in ('loss/train/total', 'metrics/train/MulticlassAccuracy', 'lr-SGD/group0'):
        mine = client.get_metric_history(branch.info.run_id, key)
        theirs = client.get_metric_history(trunk.info.run_id, key)
        before = sorted((m.step, m.value, m.timestamp) for m in theirs if m.step < cut)
        assert before and sorted((m.step, m.value, m.timestamp) for m in mine if m.step < cut) == before, key
        frac = {m.step: m.value for m in client.get_metric_history(branch.info.run_id, f'frac/{key}')}
        # the copies against thousandths of the branch's own budget, not the trunk's
        assert {s: frac.get(round(1000 * s / grown['batches'])) for s, _, _ in before} == {s: v for s, v, _ in before}
    loss = client.get_metric_history(branch.info.run_id, 'loss/train/total')
    assert sorted(m.step for m in loss) == list(range(grown['batches']))  # the whole curve, each batch once


@pytest.mark.slow
def test_the_mlflow_writer_process_killed_mid_sweep_costs_nothing_and_the_rerun_sends_what_it_missed(tmp_path):
    # Every MLflow call goes through one writer process; SIGKILLed after the first run is recorded, it is a tracker
    # gone mid-sweep: said once, the sweep finishes, the rows and what MLflow missed stay in results.sqlite, and the
    # rerun (a new writer process) sends it.
    from composer_sched.sweep import tracking

    out, location = tmp_path / 'killed', f'{local_uri(tmp_path / "killed")}#digits-cnn-wsd'
    lines = []

    def echo(line):
        lines.append(line)
        if line.startswith('[1/2 done'):
            tracking._Process.current.proc.kill()

    first = run_sweep(TARGET, RATIOS, 1, out, log='mlflow', echo=echo, share_trunks=False, plot=False)
    assert first.exit_code == 0 and [r['status'] for r in first.rows] == ['done', 'done']
    assert sum('every result is in results.sqlite' in line for line in lines) == 1
    store = ResultsStore(out / 'results.sqlite')
    assert len(store.rows()) == 2 and store.pending('mlflow', location)
    second = run_sweep(TARGET, RATIOS, 1, out, log='mlflow', echo=lambda line: None, share_trunks=False, plot=False)
    assert second.ran == 0 and not store.pending('mlflow', location)
    client, parent, children = sweep_tree(local_uri(out))
    assert parent.info.status == 'FINISHED' and sorted(children) == [(0.5, 0), (1.0, 0)]
    for (ratio, seed), child in children.items():
        row = next(r for r in first.rows if r['ratio'] == ratio)
        assert child.info.status == 'FINISHED' and child.data.tags['status'] == 'done'
        loss = client.get_metric_history(child.info.run_id, 'loss/train/total')
        assert sorted(m.step for m in loss) == list(range(row['batches']))  # each point once
