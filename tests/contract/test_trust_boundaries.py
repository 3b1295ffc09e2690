"""Issue 25's findings at the package's boundaries, one test each, named for the behaviour: every path a command
will write is probed before its first batch, every cross-field constraint of a recipe is checked at load (so
``--dry-run`` means "will train"), a sweep's derived outputs cover every stored row, and numbers and objects
handed in by the user (ProductScheduler factors, lr_find losses, data paths) are checked where they enter."""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os

import numpy as np
import pytest
import torch
from composer.core import Time

from composer_sched.adapters.durations import ReplayState
from composer_sched.adapters.product import ProductScheduler
from composer_sched.cli import main
from composer_sched.lr_find import lr_find
from composer_sched.recipes import RecipeError, load_recipe


def run_cli(*argv):
    """``(exit code, stdout, stderr)`` of the CLI run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def refused_before_training(code, out, err, *words):
    """Exit 2, one error line naming ``words``, nothing trained (no schedule table, no metrics)."""
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert 'trained' not in out and 'final' not in out and 'wrote' not in out, out


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot write in: a chmod 0555 folder, or (as root, who ignores modes) /sys, read-only
    for everyone on Linux."""
    d = tmp_path / 'ro'
    d.mkdir()
    d.chmod(0o555)
    try:
        with open(d / 'probe', 'w'):
            pass
    except OSError:
        yield d
        d.chmod(0o755)
        return
    os.unlink(d / 'probe')
    d.chmod(0o755)
    if os.path.isdir('/sys'):
        try:
            open('/sys/composer-sched-probe', 'w').close()
        except OSError:
            yield '/sys'
            return
    pytest.skip('no read-only folder on this machine (running as root with a writable /sys)')


# ----------------------------------------------------------------------------------- paths probed before training

def test_keep_stable_under_a_file_is_refused_before_training(tmp_path):
    (tmp_path / 'afile').write_text('x')
    code, out, err = run_cli('train', '--keep-stable', str(tmp_path / 'afile' / 'st.pt'), 'max_duration=2ba')
    refused_before_training(code, out, err, '--keep-stable', 'is a file, not a folder')


def test_keep_stable_in_a_read_only_folder_is_refused_before_training(read_only_dir):
    code, out, err = run_cli('train', '--keep-stable', os.path.join(read_only_dir, 'st.pt'), 'max_duration=2ba')
    refused_before_training(code, out, err, '--keep-stable', 'cannot be written')


def test_keep_stable_record_that_cannot_be_written_is_refused_before_training(tmp_path):
    (tmp_path / 'st.pt.json').mkdir()  # a folder where the LR record goes
    code, out, err = run_cli('train', '--keep-stable', str(tmp_path / 'st.pt'), 'max_duration=2ba')
    refused_before_training(code, out, err, '--keep-stable (its record)', 'is a folder')


def test_save_weights_that_cannot_be_written_is_refused_before_training(tmp_path):
    (tmp_path / 'afile').write_text('x')
    code, out, err = run_cli('train', '--save-weights', str(tmp_path / 'afile' / 'w.pt'), 'max_duration=2ba')
    refused_before_training(code, out, err, '--save-weights')


def test_lr_find_output_with_a_format_it_cannot_write_is_refused_before_the_test(tmp_path):
    code, out, err = run_cli('lr-find', '-o', str(tmp_path / 'out.txt'), '--num-batches', '3')
    refused_before_training(code, out, err, '-o', "'.txt'", '.png')
    assert out == ''  # the range test did not run: no table


def test_lr_find_output_in_a_read_only_folder_is_refused_before_the_test(read_only_dir):
    code, out, err = run_cli('lr-find', '-o', os.path.join(read_only_dir, 'lr.png'), '--num-batches', '3')
    refused_before_training(code, out, err, '-o', 'cannot be written')
    assert out == ''


def test_lr_find_output_without_extension_reports_the_png_it_wrote(tmp_path):
    target = tmp_path / 'outdir'
    code, out, err = run_cli('lr-find', '-o', str(target), '--num-batches', '4', '--stop-factor', 'none')
    assert code in (0, 1), err  # 1: a rule with no suggestion on 4 batches; the plot is written either way
    assert f'wrote {target}.png' in out
    assert (tmp_path / 'outdir.png').is_file() and not target.exists()


def test_sweep_output_subfolder_that_is_a_file_is_refused_before_any_run(tmp_path):
    out = tmp_path / 'sweep'
    out.mkdir()
    (out / 'stable').write_text('not a folder')
    code, stdout, err = run_cli('sweep', '--ratios', '0.5,1', '--out', str(out), 'max_duration=4ba')
    refused_before_training(code, stdout, err, 'stable', 'existing file')
    assert not [r for r in _db_rows(out)], 'no run may be recorded'


def test_probes_leave_nothing_behind_and_return_the_written_path(tmp_path):
    from composer_sched.paths import check_writable_dir, check_writable_file, png_path

    assert check_writable_file(tmp_path / 'a' / 'b.pt', '--x') == str(tmp_path / 'a' / 'b.pt')
    assert png_path(tmp_path / 'plot', '-o') == str(tmp_path / 'plot.png')
    assert check_writable_dir(tmp_path / 'later', '--out', create=False) == str(tmp_path / 'later')
    assert sorted(p.name for p in tmp_path.rglob('*')) == ['a']  # the created folder only, no probe file
    with pytest.raises(ValueError, match='NUL'):
        check_writable_file('a\x00b', '--x')
    with pytest.raises(ValueError, match='longer than'):
        check_writable_file(tmp_path / ('x' * 300 + '.pt'), '--x')


# ------------------------------------------------------------------------------- cross-field constraints at load

def test_tiny_lm_data_context_above_model_context_is_refused_at_load():
    with pytest.raises(RecipeError) as info:
        load_recipe('tinylm_wsd', ['data.context=128'])
    assert info.value.key == 'data.context' and 'model.context' in str(info.value) and '64' in str(info.value)


def test_tiny_lm_vocabulary_smaller_than_the_bytes_is_refused_at_load():
    with pytest.raises(RecipeError) as info:
        load_recipe('tinylm_wsd', ['model.vocab_size=10'])
    assert info.value.key == 'model.vocab_size' and '256' in str(info.value)


def test_image_model_on_token_data_is_refused_at_load():
    with pytest.raises(RecipeError) as info:
        load_recipe(None, ['data.name=text', '~data.val_fraction'])
    assert info.value.key == 'data.name' and 'tokens' in str(info.value)


def test_fewer_classes_than_the_data_is_refused_at_load():
    with pytest.raises(RecipeError) as info:
        load_recipe(None, ['model.num_classes=5'])
    assert info.value.key == 'model.num_classes'


@pytest.mark.parametrize('fraction,split', [(0.0001, 'validation'), (0.9999, 'training')])
def test_empty_split_is_refused_at_load(fraction, split):
    with pytest.raises(RecipeError, match=split) as info:
        load_recipe(None, [f'data.val_fraction={fraction}', 'data.batch_size=1'])
    assert info.value.key == 'data.val_fraction'


def test_dry_run_runs_the_model_on_a_batch_of_the_data():
    # A CIFAR ResNet (3 input channels) on the 1-channel digits: every declared check passes (images, 10 classes),
    # and only a forward pass shows it cannot train; --dry-run must say so, as training would at batch 0.
    code, out, err = run_cli('train', '--dry-run', 'model.name=cifar_resnet20', '~model.width')
    refused_before_training(code, out, err, 'model', 'first batch')


def test_sweep_of_a_recipe_load_refuses_records_no_failed_run(tmp_path):
    code, out, err = run_cli('sweep', 'tinylm_wsd', '--ratios', '0.5,1', '--out', str(tmp_path / 's'),
                             'data.context=128', 'max_duration=4ba')
    refused_before_training(code, out, err, 'data.context')
    assert not _db_rows(tmp_path / 's')


# ------------------------------------------------------------------------------------- options documented as null

@pytest.mark.parametrize('option', ['blowup_fraction', 'outlier_clip'])
def test_autowu_documented_null_options_are_accepted_in_recipes(option):
    r = load_recipe('algorithms/autowu', [f'algorithms.autowu.{option}=null', 'max_duration=1ep'])
    (algo,) = r.build_algorithms()
    assert r.config.algorithms.autowu[option] is None
    assert getattr(algo, option, getattr(getattr(algo, 'config', None), option, None)) is None


def test_null_is_still_refused_where_the_argument_is_not_optional():
    with pytest.raises(RecipeError, match='max_lr'):
        load_recipe('algorithms/autowu', ['algorithms.autowu.max_lr=null'])


# ----------------------------------------------------------------------------------- data paths named as they are

@pytest.mark.parametrize('kind', ['folder', 'fifo', 'device'])
def test_data_path_that_is_not_a_file_is_named_as_what_it_is(tmp_path, kind):
    path = {'folder': str(tmp_path), 'device': '/dev/zero', 'fifo': str(tmp_path / 'pipe')}[kind]
    if kind == 'fifo':
        os.mkfifo(path)
    with pytest.raises(RecipeError) as info:
        load_recipe('tinylm_wsd', [f'data.path={path}'])
    text = str(info.value)
    assert info.value.key == 'data.path' and 'no such file' not in text
    assert {'folder': 'is a folder', 'fifo': 'named pipe', 'device': 'character device'}[kind] in text


# ----------------------------------------------------------------------------------- ProductScheduler factor values

def _state():
    return ReplayState(Time.from_timestring('10ba'))


@pytest.mark.parametrize('bad', [math.nan, math.inf, -0.5])
def test_product_factor_that_is_not_a_finite_non_negative_number_is_named_with_step_and_value(bad):
    state = _state()

    def factor(s, ssr=1.0):
        return bad if int(s.timestamp.batch) == 3 else 1.0

    sched = ProductScheduler(lambda s, ssr=1.0: 0.5, factor)
    for _ in range(3):
        assert sched(state) == 0.5
        state.advance()
    with pytest.raises(ValueError) as info:
        sched(state)
    text = str(info.value)
    assert 'scheduler 1' in text and 'batch 3' in text and repr(bad) in text


def test_deeply_nested_products_evaluate_without_recursion_error():
    sched = ProductScheduler(lambda s, ssr=1.0: 0.5)
    for i in range(1000):  # about 250 levels were a RecursionError
        sched = ProductScheduler(sched, lambda s, ssr=1.0: 1.0) if i % 2 else ProductScheduler(sched)
    assert sched(_state()) == 0.5
    assert repr(sched).startswith('ProductScheduler(')


# ------------------------------------------------------------------------------------------- lr_find's inputs

def _regression(n=4):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)) for _ in range(n)]


@pytest.mark.parametrize('loss_fn,words', [
    (lambda o, t: ((o - t) ** 2).squeeze(1), 'shape (8,)'),        # a per-sample vector
    (lambda o, t: float(((o - t) ** 2).mean()), 'float'),          # a Python float: no gradient
    (lambda o, t: ((o - t) ** 2).mean().detach(), 'no gradient'),  # detached
])
def test_lr_find_loss_that_is_not_one_number_with_a_gradient_is_a_value_error(loss_fn, words):
    model = torch.nn.Linear(3, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='the loss is not allowed') as info:
        lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_fn, _regression(), num_batches=3)
    assert words in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # put back


def test_lr_find_model_without_parameters_is_a_value_error():
    class Sum(torch.nn.Module):
        def forward(self, x):
            return x.sum(1, keepdim=True)

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match='no trainable parameter'):
        lr_find(Sum(), opt, torch.nn.functional.mse_loss, _regression(), num_batches=3)


# ---------------------------------------------------------------------------------------- refusal messages

def test_refusing_a_warm_up_only_ratio_of_the_same_recipe_does_not_blame_another_recipe():
    from composer_sched.predict._shape import analyse_schedule, check_target

    def wsd(total, warm=20, cool=0.3):
        t = np.arange(total)
        return np.minimum(np.minimum(1.0, (t + 1) / warm), (total - t) / (cool * total))

    fitted = analyse_schedule(wsd(200))
    with pytest.raises(ValueError) as info:
        check_target(analyse_schedule(wsd(12)), [fitted], name='ratio 0.06')  # ends at 12/20 of its warm-up
    assert 'another recipe' not in str(info.value)
    assert 'never reaches' in str(info.value)


# ------------------------------------------------------------------------------------- derived from every row

def _db_rows(out):
    import sqlite3

    db = os.path.join(out, 'results.sqlite')
    if not os.path.isfile(db):
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return conn.execute('SELECT ratio, predicted, status FROM runs').fetchall()
        except sqlite3.OperationalError:
            return []


def test_extending_a_sweep_reports_and_writes_every_stored_ratio(tmp_path):
    from composer_sched.sweep import SweepTarget, run_sweep

    target = SweepTarget(None, ('max_duration=6ba', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=1ba'))
    out = tmp_path / 'sweep'
    kw = dict(out_dir=str(out), echo=lambda line: None)
    run_sweep(target, [0.5, 1.0], plot=False, **kw)
    second = run_sweep(target, [1.5], plot=True, **kw)
    assert [r['ratio'] for r in second.rows] == [1.5]  # this invocation's runs
    assert sorted(s.ratio for s in second.report.summaries) == [0.5, 1.0, 1.5]  # the table and recommendation
    with open(second.outputs['config_csv']) as f:
        assert sorted(float(r['ratio']) for r in csv.DictReader(f)) == [0.5, 1.0, 1.5]
    assert os.path.isfile(second.outputs['config_plot'])


def test_dry_run_runs_the_keep_stable_checks_and_writes_nothing(tmp_path):
    kept = tmp_path / 'st.pt'
    code, out, err = run_cli('train', '--dry-run', '--keep-stable', str(kept), 'max_duration=2ep')
    assert code == 0, err
    assert f'would keep the stable phase\'s end (batch 31) in {kept}' in out
    assert list(tmp_path.iterdir()) == []
    (tmp_path / 'afile').write_text('x')
    code, out, err = run_cli('train', '--dry-run', '--keep-stable', str(tmp_path / 'afile' / 'st.pt'))
    refused_before_training(code, out, err, '--keep-stable')


def test_dry_run_runs_the_extension_checks(tmp_path):
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    code, out, err = run_cli('train', '--dry-run', '--extend-to', '2', '--from', str(tmp_path / 'junk.pt'))
    assert code == 2 and 'not a readable Composer checkpoint' in err, err


def test_predict_only_rerun_of_a_trained_sweep_still_reports_its_measured_ratios(tmp_path):
    from composer_sched.sweep import SweepTarget, run_sweep

    target = SweepTarget(None, ('max_duration=6ba', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=1ba'))
    kw = dict(out_dir=str(tmp_path / 'sweep'), echo=lambda line: None, plot=False)
    run_sweep(target, [0.5, 1.0], **kw)
    again = run_sweep(target, [0.5, 1.0], predict='only', **kw)
    # The trained 0.5 row is in the database: the table and the recommendation use it (measured, not predicted).
    assert [(s.ratio, s.predicted) for s in again.report.summaries] == [(0.5, False), (1.0, False)]
    with open(again.outputs['config_csv']) as f:
        assert sorted(float(r['ratio']) for r in csv.DictReader(f) if r['predicted'] != 'True') == [0.5, 1.0]


def test_sweep_of_a_model_that_cannot_read_the_data_stops_before_any_run(tmp_path):
    code, out, err = run_cli('sweep', '--ratios', '0.5,1', '--out', str(tmp_path / 's'), 'model.name=cifar_resnet20',
                             '~model.width', 'max_duration=4ba')
    refused_before_training(code, out, err, 'model', 'first batch')
    assert not _db_rows(tmp_path / 's')


def test_a_ratio_too_large_to_count_is_refused_by_the_planner():
    # found by the property suite: 1.5e307 x 12 batches overflowed Composer's Time to an OverflowError
    from composer_sched.sweep import SweepTarget
    from composer_sched.sweep.plan import plan_sweep

    loaded = SweepTarget(None, ('max_duration=12ba',)).load()
    with pytest.raises(ValueError, match='longer than can be counted'):
        plan_sweep(loaded, [1.4980776123852632e+307], [0], 'unused', drop_unfit=True)
