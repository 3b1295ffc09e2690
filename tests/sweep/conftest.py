import os
import subprocess
import sys

import pytest


@pytest.fixture(scope='session')
def two_worker_sweep(tmp_path_factory):
    """``sweep --workers 2 --no-share`` through the CLI in an interpreter of its own, standing in a folder of its own,
    with the recipe's ``loggers.mlflow`` (experiment team-sweeps, tag team=sched) and no ``--log``: the tracking
    test reads its MLflow tree and its working folder, the workers test its rows and printed lines. Its three
    interpreters importing Composer (the CLI's and two workers') are most of either test's cost, so it runs once per
    session (per pytest-xdist worker that runs one of them). Returns ``(process, out, cwd)``; read-only to its
    readers: a test that changes the folder works on a copy."""
    from tests.sweep.tracking_helpers import OVERRIDES, USER_TRACKER_VARS

    root = tmp_path_factory.mktemp('two-workers')
    out, cwd = root / 'w2', root / 'stand'
    cwd.mkdir()
    cache = tmp_path_factory.getbasetemp() / 'xdg-cache'  # as no_user_tracker: this session's cache, no user tracker
    cache.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in USER_TRACKER_VARS}
    env['XDG_CACHE_HOME'] = str(cache)
    cmd = [sys.executable, '-m', 'composer_sched.cli', 'sweep', '--ratios', '0.5,1', '--workers', '2', '--no-share',
           '--out', str(out), *OVERRIDES, 'loggers.mlflow={experiment_name: team-sweeps, tags: {team: sched}}']
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc, out, cwd
