"""What the cluster backends' ``sweep --extend`` tests share: a small cosine sweep of the digits CNN (no stable
phase, so nothing is ever extended exactly and a longer ratio continues the kept final checkpoint), the in-process
backend's extension of it as the reference, and the checks every backend's extension must pass."""
import hashlib
import os
import shutil

from composer_sched.recipes.checkpoints import read_checkpoint
from composer_sched.sweep import SweepTarget, run_sweep
from composer_sched.sweep.plan import kept_finals

# 16 batches at ratio 1 (cosine: the continuation re-warms, then decays to the old floor); ratio 1.5 is 24, 2 is 32.
COSINE = ('max_duration=16ba', 'schedulers=[{name: cosine_annealing, alpha_f: 0.1}]', 'eval.subset_num_batches=1')
TARGET = SweepTarget(None, COSINE)
OLD = 16
LONGER = [1.5, 2.0]


def sweep_then_extend(folder, keep_first=None, **backend) -> tuple:
    """Sweep ratio 1, then ``--extend`` to :data:`LONGER` in the same folder (:func:`extend`), both on ``backend``
    (``run_sweep``'s keywords); returns ``(first, extension, the extension's printed lines)``. ``keep_first``: copy
    the folder there between the two."""
    first = run_sweep(TARGET, [1.0], 1, folder, echo=lambda line: None, plot=False, **backend)
    assert first.exit_code == 0, first.rows
    if keep_first is not None:
        shutil.copytree(folder, keep_first)
    return (first, *extend(folder, first.rows[0]['config_hash'], **backend))


def extend(folder, config_hash: str, **backend) -> tuple:
    """``--extend`` the folder's finished ratio-1 sweep to :data:`LONGER` on ``backend``: ``(outcome, printed
    lines)``. It leaves the final checkpoint it continued byte for byte as the first sweep kept it."""
    final = final_of(folder, config_hash)
    kept = digest(final)
    lines: list = []
    more = run_sweep(TARGET, LONGER, 1, folder, echo=lines.append, plot=False, extend=True, **backend)
    assert digest(final) == kept
    return more, lines


def final_of(folder, config_hash: str) -> str:
    """The one final checkpoint the folder keeps (the ratio-1 run's, seed 0), checked to be the end of that run."""
    (ratio, path), = kept_finals(os.path.join(folder, 'final'), config_hash, 0)
    info = read_checkpoint(path)
    assert ratio == 1.0 and info.batch == info.total == OLD == len(info.lrs)
    return path


def digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_extension(first, more, local_more, ratios=tuple(LONGER)) -> None:
    """``more`` (a backend's ``--extend`` after ``first``) continued ratio 1's final checkpoint into each longer
    ratio (``ratios``, 2 among them), trained only the extra batches, said so in its rows, table and CSV, and scored
    what the in-process backend's extension (``local_more``) scored, to the digit."""
    assert more.exit_code == 0, more.rows
    one = first.rows[0]
    rows = {r['ratio']: r for r in more.rows}
    assert sorted(rows) == sorted(ratios)
    for ratio, row in rows.items():
        batches = int(OLD * ratio)
        assert row['status'] == 'done' and row['batches'] == batches
        assert row['branched_from'] == one['run_id'] and row['branch_batch'] == OLD
        assert row['trained_batches'] == batches - OLD
        assert row['origin'].startswith('continued from ratio 1 seed 0 (re-warm '), row['origin']
    local = {r['ratio']: r for r in local_more.rows}
    assert [(r['run_id'], r['batches'], r['origin'], r['metrics']) for r in more.rows] == \
        [(local[r['ratio']]['run_id'], local[r['ratio']]['batches'], local[r['ratio']]['origin'],
          local[r['ratio']]['metrics']) for r in more.rows]
    by_ratio = {line.split()[0].rstrip('*'): line for line in more.report.table().splitlines()[1:]}
    assert by_ratio['2'].rstrip().endswith('continued from ratio 1') and by_ratio['1'].rstrip().endswith('-')
    with open(more.outputs['config_csv']) as f:
        assert rows[2.0]['origin'] in f.read()
