"""One rank of ``composer -n 2 -m composer_sched.cli train ...`` (a scenario of tests/launch.py's one launch under
Composer's launcher, read by test_cli_launcher.py): the CLI's ``main``, which is what ``-m composer_sched.cli`` runs,
on the bundled recipe; its exit code and what it printed go to ``<out>/rank<r>.json``, its file logger to
``<out>/log-rank<r>.txt``."""
import contextlib
import io
import json
import os
import sys

OVERRIDES = ['max_duration=1ep', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba']


def main(out_dir: str) -> None:
    from composer_sched.cli import main as cli

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli(['train', *OVERRIDES, '--quiet', f'loggers.file.filename={out_dir}/log-rank{{rank}}.txt'])
    with open(os.path.join(out_dir, f'rank{os.environ["RANK"]}.json'), 'w') as f:
        json.dump({'code': code, 'stdout': printed.getvalue(), 'overrides': OVERRIDES}, f)


if __name__ == '__main__':
    main(sys.argv[1])
