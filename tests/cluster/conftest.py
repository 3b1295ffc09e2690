"""The session's one-node Slurm (tests/cluster/harness.py): started once per pytest(-xdist) worker, each in its
own temporary folder with its own ports, and stopped by pid at the end."""
import tempfile

import pytest

from tests.cluster.harness import missing, start_slurm


@pytest.fixture(scope='session')
def slurm_cluster():
    why = missing()
    if why:
        pytest.skip(f'no test Slurm: {why}')
    cluster = start_slurm(tempfile.mkdtemp(prefix='cs-slurm-'))
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm(slurm_cluster, monkeypatch):
    """The cluster, with ``SLURM_CONF`` pointing at it for this test (the backend's sbatch/squeue calls)."""
    monkeypatch.setenv('SLURM_CONF', slurm_cluster.conf)
    yield slurm_cluster
    # A test that failed half-way must not leave jobs running into the next test.
    jobs = slurm_cluster.run('squeue', '-h', '-o', '%i', check=False).split()
    if jobs:
        slurm_cluster.run('scancel', *jobs, check=False)



@pytest.fixture(scope='session')
def local_extension(tmp_path_factory):
    """The in-process backend's sweep of tests/cluster/extending.py's target at ratio 1, then its ``--extend``:
    what the Slurm and Ray backends' extensions must equal, as ``(first, extension, folder)``, where ``folder`` is
    a copy of the sweep folder before the extension (a test extends its own copy of it)."""
    from tests.cluster.extending import sweep_then_extend

    root = tmp_path_factory.mktemp('extend-local')
    first, more, _ = sweep_then_extend(root / 'local', keep_first=root / 'first')
    return first, more, root / 'first'
