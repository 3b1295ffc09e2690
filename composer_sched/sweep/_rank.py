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


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
