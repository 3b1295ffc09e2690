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
    first time a test asks (once per pytest-xdist worker that runs one of them;):
    ``two_rank_runs(name)`` is what its ranks 0 and 1 wrote, ``two_rank_runs.folder(name)`` its folder. A launch is
    three fresh interpreters importing Composer, most of a 2-rank test's cost; the scenarios' own training is a few
    seconds. A scenario that raised fails its own test only."""
    from tests.launch import TwoRankRuns

    return TwoRankRuns(tmp_path_factory.mktemp('two-ranks'))  # a failed launch fails every test that asks

