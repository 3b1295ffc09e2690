"""One rank of a launched sweep run: ``composer -n N -m composer_sched.sweep._rank ATTEMPT_DIR``.

Every rank trains with the same :func:`~composer_sched.sweep.execute.execute_run` as a single-process run (the
Trainer joins the process group from the launcher's RANK/WORLD_SIZE/... variables), writes its row into
``ATTEMPT_DIR`` and exits 1 if it failed, so that the launcher stops the other ranks. The parent
(:func:`~composer_sched.sweep.execute.launch_run`) records the run; ranks never touch the database.
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
        target, spec, config_hash, cpus, *rest = pickle.load(f)
    row = execute_run(target, spec, config_hash, cpus, track=rest[0] if rest else None)
    write_rank_row(attempt, int(os.environ.get('RANK', '0')), row)
    return 0 if row['status'] == 'done' else 1


def _exit(code: int) -> None:
    """End the rank with ``code`` once the exit handlers ran (Composer's engines, logging, ``weakref`` finalizers,
    mlflow's flushes) and the standard streams are flushed, without the interpreter's teardown of torch's and
    Composer's modules: that takes seconds per rank, and the launcher and the sweep wait for it; the rank's row
    is on disk already."""
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
