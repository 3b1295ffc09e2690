"""Sweeps that continue finished runs whose trunks were not kept (issue 23 item 5): a sweep keeps the longest run's
final checkpoint of each seed in DIR/final/; `sweep --extend` with longer ratios continues it (a re-warm, then the
recipe's decay), trains only the extra batches and says so in the table and the CSV; a run with nothing to
continue is refused before training. One small real cosine sweep (no stable phase: no trunk is ever kept) serves
every assertion."""
import csv
import os
import shutil

import pytest

from composer_sched.cli import main
from composer_sched.recipes.checkpoints import read_checkpoint
from composer_sched.sweep import SweepTarget, run_sweep
from composer_sched.sweep.plan import kept_finals, plan_sweep

# The digits CNN, 22 batches per epoch: ratio 1 is 44 batches, 1.5 is 66, 2 is 88.
COSINE = ('max_duration=2ep', 'schedulers=[{name: cosine_annealing, alpha_f: 0.1}]', 'eval.subset_num_batches=1')


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    return err


@pytest.fixture(scope='module')
def swept(tmp_path_factory):
    """A finished sweep at ratios 0.5 and 1 (seed 0), then `sweep --extend` at 1.5 and 2 in the same folder."""
    out = str(tmp_path_factory.mktemp('sweep') / 'out')
    # What a trunk killed while saving its end leaves (the write-then-rename's temporary): the rerun removes it.
    partial = os.path.join(out, 'final', f'{SweepTarget(None, COSINE).load().fingerprint}-r1-s0.pt.4242.tmp')
    os.makedirs(os.path.dirname(partial))
    with open(partial, 'wb') as f:
        f.write(b'half a checkpoint')
    lines: list = []
    first = run_sweep(SweepTarget(None, COSINE), [0.5, 1.0], out_dir=out, echo=lines.append, plot=False)
    assert first.exit_code == 0
    finals = kept_finals(os.path.join(out, 'final'), first.rows[0]['config_hash'], 0)
    kept_line = next(x for x in lines if x.strip().startswith('kept: '))
    first_sizes = {p: os.path.getsize(p) for _, p in finals}
    lines2: list = []
    more = run_sweep(SweepTarget(None, COSINE), [1.5, 2.0], out_dir=out, echo=lines2.append, plot=False, extend=True)
    return {'out': out, 'first': first, 'finals': finals, 'kept_line': kept_line, 'more': more, 'lines': lines2,
            'sizes': first_sizes, 'partial': partial}


@pytest.mark.slow
def test_a_sweep_keeps_the_longest_runs_final_checkpoint_and_says_what_it_costs(swept):
    # Only the longest ratio's run keeps its end (what every longer ratio continues from), as the end of its run.
    (ratio, path), = swept['finals']
    assert ratio == 1.0 and os.path.basename(path) == f'{swept["first"].rows[0]["config_hash"]}-r1-s0.pt'
    assert swept['partial'] == f'{path}.4242.tmp' and sorted(os.listdir(os.path.dirname(path))) == [
        os.path.basename(path)]  # a killed save's leftover removed, nothing else left beside the kept end
    info = read_checkpoint(path)
    assert info.batch == info.total == 44 and len(info.lrs) == 44
    mb = f'{swept["sizes"][path] / 1e6:.1f} MB'
    assert '1 final checkpoint(s)' in swept['kept_line'] and mb in swept['kept_line'], swept['kept_line']
    # A continued run keeps no final of its own (it is not the end of a from-scratch run: nothing continues it).
    assert kept_finals(os.path.join(swept['out'], 'final'), swept['first'].rows[0]['config_hash'], 0) == \
        swept['finals']


@pytest.mark.slow
def test_extend_continues_each_longer_ratio_from_the_finished_run_paying_only_the_extra_batches(swept):
    more = swept['more']
    assert more.exit_code == 0, more.rows
    rows = {r['ratio']: r for r in more.rows}
    one = next(r for r in swept['first'].rows if r['ratio'] == 1.0)
    for ratio, batches in ((1.5, 66), (2.0, 88)):
        row = rows[ratio]
        assert row['status'] == 'done' and row['batches'] == batches
        assert row['trained_batches'] == batches - 44 and row['branch_batch'] == 44
        assert row['branched_from'] == one['run_id']
        assert row['origin'].startswith('continued from ratio 1 seed 0 (re-warm ')
        # Its cost counts the finished run's batches it reused, as a branch's does.
        assert row['equiv_wall_s'] > row['wall_s']
    assert any(x.startswith('  continuing: ratio 2 seed 0 continues the finished run of ratio 1') for x in
               swept['lines'])
    assert sum(r['trained_batches'] for r in more.rows) == 22 + 44  # not the 66 + 88 of fresh runs
    # The table and the CSVs say where each row came from.
    table = more.report.table()
    assert table.splitlines()[0].rstrip().endswith('origin')
    by_ratio = {line.split()[0].rstrip('*'): line for line in table.splitlines()[1:]}
    assert by_ratio['2'].rstrip().endswith('continued from ratio 1') and by_ratio['1'].rstrip().endswith('-')
    assert 'origin: continued = trained only its extra batches' in more.report.text()
    for path in (more.outputs['config_csv'], more.outputs['csv']):
        with open(path) as f:
            got = {(float(r['ratio']), r['origin']) for r in csv.DictReader(f)}
        assert (2.0, rows[2.0]['origin']) in got and (0.5, '') in got


@pytest.mark.slow
def test_extend_refuses_a_run_with_nothing_to_continue_before_training(swept, tmp_path, capsys):
    out = swept['out']
    n = len(swept['more'].store.rows())
    # Shorter than every finished run: nothing to continue from, one line, exit 2, nothing trained.
    assert main(['sweep', *COSINE, '--out', out, '--ratios', '0.25', '--extend', '--no-plot']) == 2
    err = _error(capsys)
    assert '--extend: 1 run(s) have nothing to continue' in err and 'ratio 0.25 seed 0' in err
    assert len(swept['more'].store.rows()) == n
    # Another seed's final, renamed as seed 1's: read by content, refused and named.
    h = swept['first'].rows[0]['config_hash']
    fake = os.path.join(out, 'final', f'{h}-r1-s1.pt')
    shutil.copyfile(swept['finals'][0][1], fake)
    try:
        target = SweepTarget(None, COSINE).load()
        plan = plan_sweep(target, [2.0], [1], str(tmp_path / 'c'), final_dir=os.path.join(out, 'final'), extend=True)
        why = plan.unextended[f'{h}-r2-s1']
        assert f'{fake}: it was trained with another recipe or seed (seed: 0 in the checkpoint, 1 in the recipe)' \
            in why, why
        assert any(x.startswith(f'warning: ignoring {fake}') for x in plan.reasons)
    finally:
        os.remove(fake)
    # A folder whose runs kept nothing (a fresh one): refused, pointing to where finals are kept.
    assert main(['sweep', *COSINE, '--out', str(tmp_path / 'fresh'), '--ratios', '2', '--extend', '--no-plot']) == 2
    assert 'no finished shorter run kept a usable final checkpoint (none in' in _error(capsys)
    assert main(['sweep', *COSINE, '--out', out, '--ratios', '2', '--extend', '--predict', 'only']) == 2
    assert '--extend is not allowed with --predict only' in _error(capsys)


def test_without_extend_the_sweep_says_a_finished_run_could_be_continued(tmp_path):
    """The hint is printed before training (here: the plan of a folder holding a final by name)."""
    from composer_sched.sweep.runner import _hint_extend, _SweepJob

    target = SweepTarget(None, COSINE).load()
    out = str(tmp_path)
    os.makedirs(os.path.join(out, 'final'))
    open(os.path.join(out, 'final', f'{target.fingerprint}-r1-s0.pt'), 'w').close()
    plan = plan_sweep(target, [2.0], [0], str(tmp_path / 'c'))
    lines: list = []
    job = _SweepJob(SweepTarget(None, COSINE), target, [0], target.fingerprint, plan, target.resources, None, out, 1,
                    'local', None, lines.append)
    _hint_extend(job, plan.runs)
    assert len(lines) == 1 and '--extend would continue them' in lines[0]
    lines.clear()
    _hint_extend(job, [])
    assert not lines
