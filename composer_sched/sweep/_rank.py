"""The ranks of a launched sweep: ``composer -n N -m composer_sched.sweep._rank ATTEMPT_DIR``.

The attempt's job is one run or several in turn (a trunk before its branches: :func:`~composer_sched.sweep.execute.
launch_runs`), so a rank imports torch and Composer once for all of them. Every rank trains each with the same
:func:`~composer_sched.sweep.execute.execute_run` as a single-process run (the Trainer joins the process group from
the launcher's RANK/WORLD_SIZE/... variables) and writes its row into ``ATTEMPT_DIR`` as soon as the run ends. A run
that failed ends the rank with exit code 1, so that the launcher stops the other ranks (which may be waiting for
this one in a collective) and the later runs do not start. The parent records the runs; ranks never touch the
database.
"""
from __future__ import annotations

import os
import pickle
import sys


def main(argv: list[str]) -> int:
    from composer_sched.sweep.execute import die_with_parent, execute_run, write_rank_row

    die_with_parent()  # the launcher is the parent: a killed launcher leaves no rank training
    attempt = argv[0]
    with open(os.path.join(attempt, 'job.pkl'), 'rb') as f:
        target, specs, config_hash, cpus, track = pickle.load(f)
    rank = int(os.environ.get('RANK', '0'))
    for i, spec in enumerate(specs):
        row = execute_run(target, spec, config_hash, cpus, track=track)
        write_rank_row(attempt, rank, row, i)
        if row['status'] != 'done':
            return 1
    return 0


def _exit(code: int) -> None:
    """End the rank with ``code`` once the exit handlers ran (Composer's engines, logging, ``weakref`` finalizers,
    mlflow's flushes) and the standard streams are flushed, without the interpreter's teardown of torch's and
    Composer's modules: that takes seconds per rank, and the launcher and the sweep wait for it; the rank's rows
    are on disk already."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == '__main__':
    _exit(main(sys.argv[1:]))
