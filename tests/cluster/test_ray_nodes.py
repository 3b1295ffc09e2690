"""The Ray backend on a real multi-node Ray started on this machine (``ray.cluster_utils.Cluster``): a node killed
while it trains a run does not lose the run; Ray retries it on another node and the sweep records every run once,
with the local backend's numbers."""
import threading
import time

import psutil
import pytest
import ray
from ray.cluster_utils import Cluster

from composer_sched.sweep import ResultsStore, SweepTarget, run_sweep

pytestmark = pytest.mark.slow

TARGET = SweepTarget(None, ('max_duration=48ba', 'schedulers[0].t_warmup=2ba', 'eval.subset_num_batches=1'))
RATIOS = [0.5, 1.0]


@pytest.fixture
def two_node_ray():
    # The head schedules nothing (0 CPUs): every run trains on one of the two worker nodes, one run per node.
    cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 0, 'include_dashboard': False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


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


def test_extend_on_ray_nodes_continues_the_kept_final_as_in_process(two_node_ray, tmp_path, local_extension,
                                                                    capsys, monkeypatch):
    # The ratio-1 run trains on one worker node and keeps its final checkpoint; `--extend` runs the two longer
    # ratios at once, one per worker node (one CPU each), so at least one continuation reads a checkpoint another
    # node wrote. They train only the batches after it and score what the in-process backend's extension does.
    # The folder is given as a relative path, as users do, from a working folder the nodes were not started in.
    import pathlib

    from composer_sched.cli import main
    from tests.cluster.extending import COSINE, check_extension, sweep_then_extend

    monkeypatch.chdir(tmp_path)
    folder = pathlib.Path('ray')
    first, more, lines = sweep_then_extend(folder, backend='ray')
    check_extension(first, more, local_extension[1])
    assert any('2 run(s) to train on ray' in line for line in lines)
    n = len(ResultsStore(folder / 'results.sqlite').rows())
    # Refused on the Ray backend as on the local one: one line, exit 2, nothing trained.
    assert main(['sweep', *COSINE, '--out', str(folder), '--no-plot', '--backend', 'ray', '--extend',
                 '--ratios', '0.5']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and '--extend: 1 run(s) have nothing to continue' in err, err
    assert len(ResultsStore(folder / 'results.sqlite').rows()) == n
