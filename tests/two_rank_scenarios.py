"""Run under ``composer -n 2`` by the ``two_rank_runs`` fixture (tests/conftest.py): each ``name=path`` argument is a
script with ``main(out_dir)``, run in turn by both ranks into ``<out>/<name>``, so that the tests of several 2-rank
scenarios pay one launch (three Composer imports, ~30 s of CPU) instead of one each. A scenario that raises writes
its traceback to ``<out>/<name>/rank<r>.error`` and the next one runs; its test reports the traceback."""
import os
import runpy
import sys
import traceback


def main(out: str, scenarios: list[str]) -> None:
    rank = os.environ.get('RANK', '0')
    for spec in scenarios:
        name, _, path = spec.partition('=')
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        try:
            runpy.run_path(path, run_name=f'two_rank_{name}')['main'](folder)
        except BaseException:  # noqa: BLE001 - reported by the scenario's own test
            with open(os.path.join(folder, f'rank{rank}.error'), 'w') as f:
                f.write(traceback.format_exc())


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
    # As composer_sched.sweep._rank ends: exit handlers, then no teardown of torch's and Composer's modules (seconds
    # per rank, which the launcher waits for); every scenario's files are closed by now.
    from composer_sched.sweep._rank import _exit
    _exit(0)
