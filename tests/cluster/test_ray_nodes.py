"""The Ray backend on a real multi-node Ray started on this machine (``ray.cluster_utils.Cluster``): one task per
run, results in the same database and the same numbers as the local backend, the same MLflow tree; a node killed
while it trains a run does not lose the run (Ray retries it on another node and the sweep records every run once);
``--extend`` continues on other nodes than the one that wrote the checkpoint.

The module's tests share one Ray (:func:`ray_cluster`): a Ray start is seconds of CPU, and the worker processes
stay with the connected driver, so a worker that imported Composer for one test's run (~10 s of CPU) trains the
next test's runs too."""
import os
import threading
import time

import psutil
import pytest
import ray  # the 'ray' extra: make test installs it, and a missing Ray must fail, not skip
from ray.cluster_utils import Cluster

from composer_sched.sweep import ResultsStore, SweepTarget, run_sweep
from tests.sweep.tracking_helpers import OVERRIDES, RATIOS, assert_nothing_in, check_tree, local_uri, no_user_tracker

pytestmark = pytest.mark.slow

TARGET = SweepTarget(None, ('max_duration=48ba', 'schedulers[0].t_warmup=2ba', 'eval.subset_num_batches=1'))


@pytest.fixture(scope='module')
def ray_cluster(tmp_path_factory):
    """A head that schedules nothing (0 CPUs; this process is its driver) and two worker nodes of one CPU each:
    every run trains on a worker node, one run per node at a time. The nodes' processes inherit this environment:
    a user's MLflow variables are not theirs (as in the tracking tests)."""
    with pytest.MonkeyPatch.context() as env:
        no_user_tracker(env, tmp_path_factory)
        if ray.is_initialized():  # a driver of another Ray: this module's must be this cluster's
            ray.shutdown()
        # no log monitor (the driver takes no worker logs) nor autoscaler monitor (a fixed cluster): 2 s of CPU
        cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 0, 'include_dashboard': False,
                                                                'include_log_monitor': False, 'no_monitor': True})
        try:
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()


@pytest.fixture
def two_node_ray(ray_cluster):
    # A test that killed a node leaves one worker node: the next test gets a new one in its place.
    while len(ray_cluster.worker_nodes) < 2:
        ray_cluster.add_node(num_cpus=1)
    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, include_dashboard=False, log_to_driver=False)
    return ray_cluster, list(ray_cluster.worker_nodes)


def test_ray_backend_matches_local_backend_and_logs_the_same_mlflow_tree(two_node_ray, tmp_path, monkeypatch):
    cwd = tmp_path / 'cwd'  # where the user stands: the sweep writes only into its --out
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target, lines, out = SweepTarget(None, OVERRIDES), [], tmp_path / 'ray'
    res = run_sweep(target, RATIOS, 1, out, backend='ray', log='mlflow', echo=lines.append)
    assert res.exit_code == 0 and res.ran == 2
    assert any('on ray' in line for line in lines)
    rows = ResultsStore(out / 'results.sqlite').rows()
    assert [r['status'] for r in rows] == ['done', 'done']
    branch = rows[0]
    assert branch['ratio'] == 0.5 and branch['branched_from'] == rows[1]['run_id']  # the trunk ran as its own task
    local = run_sweep(target, RATIOS, 1, tmp_path / 'local', echo=lines.append)
    assert [(r['run_id'], r['batches'], r['metrics']) for r in local.rows] == \
        [(r['run_id'], r['batches'], r['metrics']) for r in rows]
    # the tree every backend gives (tests/sweep/test_sweep_tracking.py checks it on the others)
    _, parent, _ = check_tree(local_uri(out), str(out))
    assert parent.data.tags['backend'] == 'ray'
    assert_nothing_in(cwd)


def _on_nodes(folder: str, together: list):
    """The backend's ``run_one``, first writing the id of the Ray node each run trains on to ``folder/<ratio>``; a
    run of a ratio in ``together`` starts only once all of those have (so they train at the same time, each on a
    node of its own: a run takes its node's one CPU)."""
    from composer_sched.sweep import runner

    real = runner.run_one

    def run_one(target, spec, *args, **kwargs):
        with open(os.path.join(folder, f'{spec.ratio:g}'), 'w') as f:
            f.write(ray.get_runtime_context().get_node_id())
        end = time.monotonic() + 120
        while spec.ratio in together and time.monotonic() < end and \
                not all(os.path.exists(os.path.join(folder, f'{r:g}')) for r in together):
            time.sleep(0.05)
        return real(target, spec, *args, **kwargs)

    return run_one


def test_extend_on_ray_nodes_continues_the_kept_final_as_in_process(two_node_ray, tmp_path, local_extension,
                                                                    capsys, monkeypatch):
    # The ratio-1 run trains on one worker node and keeps its final checkpoint; `--extend` runs the two longer
    # ratios at once, one per worker node (one CPU each), so one continuation reads a checkpoint another node wrote:
    # the runs record their nodes. They train only the batches after it and score what the in-process backend's
    # extension does. The folder is given as a relative path, as users do, from a working folder the nodes were not
    # started in.
    import pathlib

    from composer_sched.cli import main
    from composer_sched.sweep import runner
    from tests.cluster.extending import COSINE, LONGER, check_extension, sweep_then_extend

    cluster, workers = two_node_ray
    nodes = tmp_path / 'nodes'
    nodes.mkdir()
    monkeypatch.setattr(runner, 'run_one', _on_nodes(str(nodes), LONGER))
    monkeypatch.chdir(tmp_path)
    folder = pathlib.Path('ray')
    first, more, lines = sweep_then_extend(folder, backend='ray')
    check_extension(first, more, local_extension[1])
    assert any('2 run(s) to train on ray' in line for line in lines)
    # The driver (it writes results.sqlite) is the head's; the final was written on a worker node, and the two
    # continuations trained on both worker nodes: one on another node than the one that wrote the checkpoint.
    ran = {r: (nodes / f'{r:g}').read_text() for r in (1.0, *LONGER)}
    assert ray.get_runtime_context().get_node_id() == cluster.head_node.node_id
    assert ran[1.0] in {n.node_id for n in workers}
    assert sorted(ran[r] for r in LONGER) == sorted(n.node_id for n in workers), ran
    n = len(ResultsStore(folder / 'results.sqlite').rows())
    # Refused on the Ray backend as on the local one: one line, exit 2, nothing trained.
    assert main(['sweep', *COSINE, '--out', str(folder), '--no-plot', '--backend', 'ray', '--extend',
                 '--ratios', '0.5']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and '--extend: 1 run(s) have nothing to continue' in err, err
    assert len(ResultsStore(folder / 'results.sqlite').rows()) == n


def _training_node(workers):
    """The worker node one of whose worker processes is running a run (its process title is ray::run_one)."""
    for node in workers:
        raylet = node.all_processes[ray._private.ray_constants.PROCESS_TYPE_RAYLET][0].process
        try:
            children = psutil.Process(raylet.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                if 'ray::run_one' in ' '.join(child.cmdline()):
                    return node
            except psutil.Error:
                continue
    return None


# Last in the module: the node it kills is replaced (a new worker process importing Composer) only for a test after.
def test_a_node_killed_while_it_trains_loses_no_run(two_node_ray, tmp_path):
    cluster, workers = two_node_ray
    result = {}
    driver = threading.Thread(target=lambda: result.setdefault('out', run_sweep(
        TARGET, RATIOS, 1, tmp_path / 'ray', backend='ray', echo=lambda line: None, plot=False)))
    driver.start()
    end = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < end and driver.is_alive():
        victim = _training_node(workers)
        time.sleep(0.05)
    assert victim is not None, 'no node was seen training the trunk'
    cluster.remove_node(victim, allow_graceful=False)  # SIGKILL of the node's raylet and its workers
    driver.join(300)
    out = result['out']
    assert out.exit_code == 0
    rows = ResultsStore(tmp_path / 'ray' / 'results.sqlite').rows()
    assert sorted(r['run_id'] for r in rows) == sorted(r.run_id for r in out.plan.runs)  # each run once
    assert all(r['status'] == 'done' for r in rows)
    local = run_sweep(TARGET, RATIOS, 1, tmp_path / 'local', echo=lambda line: None, plot=False)
    key = [(r['run_id'], r['batches'], r['branched_from'], r['metrics']) for r in local.rows]
    assert [(r['run_id'], r['batches'], r['branched_from'], r['metrics']) for r in rows] == key
