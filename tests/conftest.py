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


@pytest.fixture(scope='session')
def two_rank_runs(tmp_path_factory):
    """The 2-rank scenarios of tests/launch.py's ``SCENARIOS``, all run in one launch under ``composer -n 2`` the
    first time a test asks (once per pytest-xdist worker that runs one of them; the balance below keeps them on one):
    ``two_rank_runs(name)`` is what its ranks 0 and 1 wrote, ``two_rank_runs.folder(name)`` its folder. A launch is
    three fresh interpreters importing Composer, most of a 2-rank test's cost; the scenarios' own training is a few
    seconds. A scenario that raised fails its own test only."""
    from tests.launch import TwoRankRuns

    return TwoRankRuns(tmp_path_factory.mktemp('two-ranks'))  # a failed launch fails every test that asks


# ---- Balance for pytest-xdist (make test: 2 workers, --dist worksteal) ------------------------------------------
# worksteal hands worker i the next len(pending) // (workers - i) tests of the collection, then lets an idle worker
# take the second half of another's queue, from its end. So the collection is reordered into one block per worker:
# the test modules are dealt to the blocks longest first (the blocks' measured seconds kept even), each block starts
# with its longest modules and ends with its shortest, which are what an idle worker takes at the end. Modules stay
# whole (module fixtures set up once), and the tests sharing a session fixture that starts something expensive stay
# together (one Slurm, one 2-rank launch per worker that needs them). tests/durations.json holds the seconds of the
# tests that take 1 s or more (`pytest -n 2 --store-durations` rewrites it); a test it does not list counts 1 s if
# marked slow, else 0.05 s. Only the order changes: no test is added or dropped, and tests are order-independent.
DURATIONS = os.path.join(os.path.dirname(__file__), 'durations.json')
#: session fixtures worth one start per worker: the tests using one go to one block
SHARED_FIXTURES = ('slurm_cluster', 'two_rank_runs')


def pytest_addoption(parser):
    parser.addoption('--store-durations', action='store_true',
                     help=f'write the seconds of each test taking 1 s or more (setup, call, teardown) to {DURATIONS}')


def _unit(item) -> str:
    shared = [f for f in SHARED_FIXTURES if f in getattr(item, 'fixturenames', ())]
    return f'fixture:{shared[0]}' if shared else item.nodeid.split('::')[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    try:
        with open(DURATIONS) as f:
            seconds = json.load(f)
    except (OSError, ValueError):
        seconds = {}
    units: dict[str, list] = {}
    for item in items:
        units.setdefault(_unit(item), []).append(item)

    def cost(unit: list) -> float:
        return sum(seconds.get(item.nodeid, 1.0 if item.get_closest_marker('slow') else 0.05) for item in unit)

    # block sizes exactly as worksteal deals them out; the units longest first into the least-loaded block with
    # room (a unit larger than every block's room fills blocks in turn)
    sizes, left = [], len(items)
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    blocks: list[list] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for unit in sorted(units.values(), key=cost, reverse=True):
        room = [b for b in range(workers) if sizes[b] - len(blocks[b]) >= len(unit)]
        if room:
            b = min(room, key=lambda b: load[b])
            blocks[b] += unit
            load[b] += cost(unit)
            continue
        share, rest = cost(unit) / len(unit), list(unit)
        while rest:
            b = min((b for b in range(workers) if len(blocks[b]) < sizes[b]), key=lambda b: load[b])
            part, rest = rest[:sizes[b] - len(blocks[b])], rest[sizes[b] - len(blocks[b]):]
            blocks[b] += part
            load[b] += share * len(part)
    items[:] = [item for block in blocks for item in block]


_test_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    _test_seconds[report.nodeid] = _test_seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    if session.config.getoption('store_durations') and not os.environ.get('PYTEST_XDIST_WORKER'):
        with open(DURATIONS, 'w') as f:
            json.dump({t: round(s, 1) for t, s in sorted(_test_seconds.items()) if s >= 1}, f, indent=0)
            f.write('\n')
