import json
import os
import warnings

import pytest
from hypothesis import HealthCheck, settings

# Composer and torch are chatty on CPU; keep test output readable.
os.environ.setdefault('TORCH_CPP_LOG_LEVEL', 'ERROR')
# Docstring examples and tests draw plots: never open a window, on any machine.
os.environ.setdefault('MPLBACKEND', 'Agg')
warnings.filterwarnings('ignore', category=UserWarning, module='composer')

# Under CI hypothesis replays the same examples every run (derandomize): CI never meets a new random example, and a
# failure it reports reproduces. Locally the default profile keeps exploring; HYPOTHESIS_PROFILE picks one by hand.
# Under pytest-xdist (make test) CI's profile keeps no example database; locally the workers share .hypothesis/,
# whose directory database is written with atomic renames and is safe for concurrent processes.
settings.register_profile('ci', derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', deadline=None)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci' if os.environ.get('CI') else 'dev'))


@pytest.fixture(scope='session', autouse=True)
def _commit_hash_read_once():
    """Every Composer Trainer re-reads Composer's installed file list for a commit hash it only logs (~55 ms, most of
    a tiny Trainer's construction; the suite builds hundreds): read once per test process (tests/composer_env.py)."""
    from tests.composer_env import commit_hash_read_once

    with commit_hash_read_once():
        yield


@pytest.fixture(scope='session')
def two_rank_runs(tmp_path_factory):
    """The 2-rank scenarios of tests/launch.py's ``SCENARIOS``, all run in one launch under ``composer -n 2`` the
    first time a test asks (once per pytest-xdist worker that runs one of them; the balance below keeps them on one):
    ``two_rank_runs(name)`` is what its ranks 0 and 1 wrote, ``two_rank_runs.folder(name)`` its folder. A launch is
    three fresh interpreters importing Composer, most of a 2-rank test's cost; the scenarios' own training is a few
    seconds. A scenario that raised fails its own test only."""
    from tests.launch import TwoRankRuns

    return TwoRankRuns(tmp_path_factory.mktemp('two-ranks'))  # a failed launch fails every test that asks


@pytest.fixture(scope='session')
def two_process_sweep(tmp_path_factory, two_rank_runs):
    """A finished sweep of the bundled digits recipe whose runs each take 2 processes under Composer's launcher
    (ratios 0.5 and 1, the tracking tests' 16 batches, ``--log mlflow`` into the folder's own store), as
    ``(result, printed lines, folder)``. Its launch (three interpreters importing Composer; the sweep trains the
    trunk then its branch in the same ranks) is most of a 2-process sweep test's cost, so the launcher's test, the
    tracker's, the docs' and the one-launch test read this one; a test that changes the folder works on a copy. It
    asks for ``two_rank_runs`` (whose launch trains this sweep's 0.5 run again from scratch,
    tests/sweep/two_process_rerun.py) so that the tests reading either are dealt to one worker, and each launch
    happens once."""
    from composer_sched.sweep import SweepTarget, run_sweep
    from tests.sweep.tracking_helpers import OVERRIDES

    out, lines = tmp_path_factory.mktemp('two-process-sweep') / 'p2', []
    with pytest.MonkeyPatch.context() as env:  # as the tracking tests run: no user tracker, this session's cache
        env.setenv('XDG_CACHE_HOME', str(tmp_path_factory.mktemp('cache')))
        for k in ('MLFLOW_TRACKING_URI', 'MLFLOW_EXPERIMENT_NAME', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID'):
            env.delenv(k, raising=False)
        result = run_sweep(SweepTarget(None, OVERRIDES, processes=2), [0.5, 1.0], 1, out, log='mlflow',
                           echo=lines.append)
    return result, lines, out


# ---- Balance for pytest-xdist (make test: 2 workers, --dist worksteal) ------------------------------------------
# The collection is dealt into one block per worker as worksteal hands them out (tests/order.py): the long
# multi-process tests start first on both workers, and the ends are short tests an idle worker can take. A unit is a
# test module (module fixtures set up once), or the tests sharing a session fixture that starts something expensive
# (one Slurm, one 2-rank launch, one `--workers 2` sweep per worker that needs them). tests/durations.json holds the
# seconds of the tests that take 1 s or more (`pytest -n 2 --store-durations` updates it); a test it does not list
# counts 1 s if marked slow, else 0.05 s. Only the order changes: no test is added or dropped, and tests are
# order-independent.
DURATIONS = os.path.join(os.path.dirname(__file__), 'durations.json')
#: session fixtures worth one start per worker: the tests using one go to one block
SHARED_FIXTURES = ('slurm_cluster', 'two_rank_runs', 'two_process_sweep', 'two_worker_sweep')


def pytest_addoption(parser):
    parser.addoption('--store-durations', action='store_true',
                     help=f'update {DURATIONS} with the seconds the tests run took (those of 1 s or more)')


def _unit(item) -> str:
    shared = [f for f in SHARED_FIXTURES if f in getattr(item, 'fixturenames', ())]
    return f'fixture:{shared[0]}' if shared else item.nodeid.split('::')[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    from tests.order import deal

    try:
        with open(DURATIONS) as f:
            seconds = json.load(f)
    except (OSError, ValueError):
        seconds = {}
    units: dict[str, list] = {}
    for item in items:
        units.setdefault(_unit(item), []).append(item)
    items[:] = deal(list(units.values()),
                    lambda item: seconds.get(item.nodeid, 1.0 if item.get_closest_marker('slow') else 0.05),
                    int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')))


_test_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    _test_seconds[report.nodeid] = _test_seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    if session.config.getoption('store_durations') and not os.environ.get('PYTEST_XDIST_WORKER'):
        try:  # the tests this session ran are updated, the others kept (a run of a few files keeps the rest)
            with open(DURATIONS) as f:
                seconds = json.load(f)
        except (OSError, ValueError):
            seconds = {}
        for test, took in _test_seconds.items():
            seconds.pop(test, None)
            if took >= 1:
                seconds[test] = round(took, 1)
        with open(DURATIONS, 'w') as f:
            json.dump(dict(sorted(seconds.items())), f, indent=0)
            f.write('\n')
