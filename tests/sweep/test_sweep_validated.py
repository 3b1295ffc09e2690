"""Issue 13, the sweep: every bundled recipe sweeps (algorithm recipes and AutoWU included, a recipe's own
ScaleSchedule composed with the sweep's ratio), overrides may follow options, outputs cover the whole folder,
one sweep at a time per folder, run ids never collide, and bad input or environment is one line with exit 2."""
import fcntl
import os
import subprocess

import pytest
import torch

from composer_sched.cli import build_parser, main
from composer_sched.previewing import MAX_PREVIEW_BATCHES
from composer_sched.recipes import bundled_recipes
from composer_sched.sweep import ResultsStore, SweepTarget, parse_ratios, plan_sweep, run_sweep
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import RunSpec, run_id
from composer_sched.sweep.runner import SweepFolder, config_folder

# Runs of 2 and 4 batches (1 and 2 with the ScaleSchedule recipe's own 0.5), one eval batch.
TINY = ('max_duration=4ba', 'eval.subset_num_batches=1')
#: Recipes whose datasets are not shipped: planned on generated files in their real formats, not trained (the
#: real CIFAR-10 / ImageNet are not in the test environment, and ResNets on them are minutes, not seconds).
NEEDS_DATA = ('cifar10_', 'imagenet_')


def _data_overrides(name, tmp_path_factory):
    from tests.recipes.conftest import write_cifar10, write_image_folder

    if name.startswith('cifar10_'):
        folder, _ = write_cifar10(tmp_path_factory.mktemp('cifar'))
        return (f'data.path={folder}', 'data.batch_size=8', 'data.num_workers=0', 'device=cpu')
    root = write_image_folder(tmp_path_factory.mktemp('imagenet'))
    return (f'data.path={root}', 'data.batch_size=4', 'data.num_workers=0', 'data.image_size=32', 'device=cpu')


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error:') and '\n' not in err and 'Traceback' not in err, err
    return err


@pytest.mark.slow
@pytest.mark.parametrize('name', bundled_recipes())
def test_every_bundled_recipe_sweeps(name, tmp_path, tmp_path_factory):
    if name.startswith(NEEDS_DATA):
        target = SweepTarget(name, TINY + _data_overrides(name, tmp_path_factory))
        plan = plan_sweep(target.load(), [0.5, 1.0], [0], str(tmp_path / 'ckpt'))
        assert plan.budgets == {0.5: 2, 1.0: 4} and len(plan.runs) == 2
        return
    lines = []
    # The language models' one eval batch is 256 sequences (most of their run): 16 still scores the metric.
    small_eval = ('data.eval_batch_size=16',) if name.startswith('tinylm') else ()
    out = run_sweep(SweepTarget(name, TINY + small_eval), [0.5, 1.0], 1, tmp_path, echo=lines.append, plot=False)
    assert out.exit_code == 0, [r.get('error') for r in out.rows]
    scale = 0.5 if name == 'algorithms/scale_schedule' else 1.0  # its ScaleSchedule(ratio=0.5) composes
    assert out.plan.budgets == {0.5: int(2 * scale), 1.0: int(4 * scale)}
    # Each run trains exactly the budget the header announced, and is judged by the recipe's eval metric.
    assert [(r['ratio'], r['batches'], r['status']) for r in out.rows] == \
        [(0.5, out.plan.budgets[0.5], 'done'), (1.0, out.plan.budgets[1.0], 'done')]
    assert all(r['metrics'] for r in out.rows) and out.report is not None
    text = '\n'.join(lines)
    if name == 'algorithms/autowu':  # loss-driven: independent runs, and the sweep says why
        assert 'AutoWU sets the learning rate from the training loss' in text and not out.plan.shared_batches < \
            out.plan.independent_batches
    if scale != 1.0:
        assert "the recipe's own scale-schedule ratio 0.5 composes" in text


def test_recipe_scale_schedule_composes_with_the_sweep_ratio():
    # algorithms/scale_schedule is the default recipe plus ScaleSchedule(ratio=0.5): every sweep ratio trains half.
    plain = plan_sweep(SweepTarget('digits_cnn').load(), [0.5, 1.0], [0], '/tmp/unused')
    scaled_target = SweepTarget('algorithms/scale_schedule').load()
    scaled = plan_sweep(scaled_target, [0.5, 1.0], [0], '/tmp/unused')
    assert plain.budgets == {0.5: 66, 1.0: 132}
    assert scaled.budgets == {0.5: 33, 1.0: 66} and scaled_target.run_ratio(1.0) == 0.5
    assert any('composes' in r for r in scaled.reasons)
    # The recipe's top-level scale_schedule_ratio composes the same way, and is part of the recipe's key.
    top = SweepTarget('digits_cnn', ('scale_schedule_ratio=0.5',)).load()
    assert plan_sweep(top, [0.5, 1.0], [0], '/tmp/unused').budgets == scaled.budgets
    assert top.fingerprint != SweepTarget('digits_cnn').load().fingerprint


@pytest.mark.slow
def test_setter_algorithm_branch_equals_an_independent_run(tmp_path):
    # WSD as an algorithm (no Trainer schedulers) is planned from its preview and shares a trunk; the branch's
    # weights are bit-identical to training that ratio alone.
    target = SweepTarget('algorithms/wsd', ('max_duration=1ep', 'algorithms.wsd.t_warmup=4ba',
                                            'eval.subset_num_batches=1'))
    loaded = target.load()
    plan = plan_sweep(loaded, [0.5, 1.0], [0], str(tmp_path / 'ckpt'))
    trunk, branch = plan.runs
    assert plan.reasons == [] and branch.load_from and branch.branch_batch >= 2
    h = loaded.fingerprint
    rows = {}
    for key, spec in (('trunk', trunk), ('branch', branch), ('alone', RunSpec(branch.run_id, 0.5, 0))):
        rows[key] = execute_run(target, spec, h, save_weights=str(tmp_path / f'{key}.pt'))
        assert rows[key]['status'] == 'done', rows[key].get('error')
    assert rows['branch']['branch_batch'] == branch.branch_batch
    assert rows['branch']['metrics'] == rows['alone']['metrics']
    wb, wa = torch.load(tmp_path / 'branch.pt'), torch.load(tmp_path / 'alone.pt')
    assert all(torch.equal(wb[k], wa[k]) for k in wa)


def test_overrides_after_options_parse_for_sweep():
    args = build_parser().parse_args(['sweep', 'my.yaml', '--workers', '2', 'schedulers[0].t_cooldown=0.2dur',
                                      '--seeds', '2', '~algorithms.wsd'])
    assert args.items == ['my.yaml', 'schedulers[0].t_cooldown=0.2dur', '~algorithms.wsd'] and args.workers == 2


def test_default_ratios_leave_out_what_does_not_fit_chosen_ratios_must_fit(tmp_path, capsys):
    # --procs-per-run 2 halves the batches per epoch: the planner sees what rank 0 of 2 processes sees.
    two = SweepTarget(None, (), processes=2).load()
    plan = plan_sweep(two, parse_ratios('0.25,0.5,0.75,1.0'), [0], '/tmp/unused', drop_unfit=True)
    assert max(plan.budgets.values()) == 66 and 1.0 in plan.budgets
    short = SweepTarget(None, ('max_duration=3ba',)).load()  # 0.25 of 3 batches is no batch at all
    plan = plan_sweep(short, [0.25, 0.5, 1.0], [0], '/tmp/unused', drop_unfit=True)
    assert sorted(plan.budgets) == [0.5, 1.0] and any('ratio 0.25 is left out' in r for r in plan.reasons)
    assert main(['sweep', '--ratios', '0.25,1', '--out', str(tmp_path), 'max_duration=3ba']) == 2
    assert 'ratio 0.25' in _err(capsys)


def test_run_ids_never_collide_and_ratios_are_plain_decimals():
    loaded = SweepTarget(None).load()
    plan = plan_sweep(loaded, [0.5, 0.5000001, 1.0], [0], '/tmp/unused', share_trunks=False)
    assert len({r.run_id for r in plan.runs}) == 3
    assert run_id('h', 1.0, 0) == 'h-r1-s0' and run_id('h', 0.5, 2) == 'h-r0.5-s2'  # earlier databases' keys
    for text in ('1_0', '0x10', 'infinity', '1e', ''):
        with pytest.raises(ValueError, match='--ratios='):
            parse_ratios(text)
    assert parse_ratios('1e-1, .5,2E0') == [0.1, 0.5, 2.0]


@pytest.mark.parametrize('argv, needle', [
    (['--ratios', '0.5,1e9'], f'at most {MAX_PREVIEW_BATCHES:,} batches'),  # refused before any preview
    (['--ratios', '1_0'], "'1_0' is not a finite number"),
])
def test_huge_or_misread_ratios_are_one_line(argv, needle, tmp_path, capsys):
    assert main(['sweep', '--out', str(tmp_path / 'o'), *argv]) == 2
    assert needle in _err(capsys)
    assert not (tmp_path / 'o').exists()


def test_bad_out_folders_are_one_line(tmp_path, capsys):
    afile = tmp_path / 'afile'
    afile.write_text('x')
    assert main(['sweep', '--out', str(afile), '--ratios', '0.5,1', 'max_duration=4ba']) == 2
    assert 'is an existing file' in _err(capsys)
    assert main(['sweep', '--out', str(afile / 'sub'), '--ratios', '0.5,1', 'max_duration=4ba']) == 2
    assert 'cannot be written' in _err(capsys)
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'results.sqlite').write_text('not a database' * 100)
    assert main(['sweep', '--out', str(tmp_path / 'bad'), '--ratios', '0.5,1', 'max_duration=4ba']) == 2
    assert 'results database' in _err(capsys)


def test_ray_without_a_cluster_is_one_line(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip('ray')
    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.delenv('RAY_ADDRESS', raising=False)
    monkeypatch.setenv('RAY_TMPDIR', str(tmp_path / 'raytmp'))  # 'auto' finds no cluster another test started
    # 'auto' also joins any Ray GCS process running on the machine (Ray's legacy discovery greps the process list):
    # another xdist worker's local Ray, or another user's. Hide them: this is a machine without a cluster. (Joining
    # one that then stops kills this process with it: Ray exits a driver whose raylet died.)
    import ray._private.services as ray_services

    monkeypatch.setattr(ray_services, 'find_gcs_addresses', lambda: [])
    assert main(['sweep', '--backend', 'ray', '--address', 'auto', '--ratios', '0.5,1', '--out',
                 str(tmp_path / 'o'), 'max_duration=4ba']) == 2
    assert '--backend ray cannot start' in _err(capsys)
    assert ResultsStore(tmp_path / 'o' / 'results.sqlite').rows() == []


# ---- one finished folder, several checks ----------------------------------------------------------------------
ARGV = ['schedules/wsd', '--ratios', '0.5,1', '--no-plot', 'max_duration=4ba', '--seeds', '1',
        'eval.subset_num_batches=1']


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp('finished') / 'sweep'
    # The overrides come after options: 'unrecognized arguments' before issue 13.
    assert main(['sweep', '--out', str(out), *ARGV]) == 0
    return out


@pytest.mark.slow
def test_outputs_cover_every_configuration_in_the_folder(finished, tmp_path):
    import csv
    import shutil

    out = tmp_path / 'sweep'
    shutil.copytree(finished, out)
    first = ResultsStore(out / 'results.sqlite').rows()
    assert [r['batches'] for r in first] == [2, 4]  # max_duration=4ba after the options took effect
    # A second recipe configuration into the same folder.
    other = run_sweep(SweepTarget('schedules/constant', TINY), [0.5, 1.0], 1, out, echo=lambda s: None)
    assert other.exit_code == 0
    with open(out / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    hashes = {first[0]['config_hash'], other.rows[0]['config_hash']}
    assert len(rows) == 4 and {r['config_hash'] for r in rows} == hashes  # the whole database, not the last sweep
    assert len({r['recipe'] for r in rows}) == 2
    for h in hashes:  # and each configuration its own folder
        (folder,) = [d for d in os.listdir(out) if d.endswith(h)]
        with open(out / folder / 'results.csv') as f:
            assert [r['config_hash'] for r in csv.DictReader(f)] == [h, h]
    assert (out / 'tradeoff.png').stat().st_size > 0
    name = SweepTarget('schedules/constant', TINY).load().name
    assert other.report.plot_path == os.path.join(config_folder(str(out), name, other.rows[0]['config_hash']),
                                                  'tradeoff.png')


def test_a_second_sweep_on_a_locked_folder_refuses_to_train(finished, tmp_path, capsys):
    import shutil

    out = tmp_path / 'sweep'
    shutil.copytree(finished, out)
    with open(out / SweepFolder.LOCK, 'a+') as held:  # another sweep is training here
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.truncate(0)
        held.write('4242')
        held.flush()
        # More runs to train: refused, nothing recorded.
        assert main(['sweep', '--out', str(out), *ARGV, '--ratios', '0.75,1']) == 2
        assert 'in use by another sweep (process 4242)' in _err(capsys)
        assert len(ResultsStore(out / 'results.sqlite').rows()) == 2
        # Nothing to train: the finished sweep is still reported.
        assert main(['sweep', '--out', str(out), *ARGV]) == 0
        assert '2 run(s) already finished' in capsys.readouterr().out


def _read_only_copy(src, root):
    """``root/ro``: a copy of ``src`` this process cannot write (a read-only bind mount as root, for whom
    permissions do not bind; modes 555/444 otherwise). Returns ``(path, undo)``."""
    import shutil

    copy = os.path.join(root, 'copy')
    shutil.copytree(src, copy)
    ro = os.path.join(root, 'ro')
    os.makedirs(ro)
    if os.geteuid() == 0:
        ok = subprocess.run(['mount', '--bind', copy, ro], capture_output=True).returncode == 0 and \
            subprocess.run(['mount', '-o', 'remount,bind,ro', ro], capture_output=True).returncode == 0
        if not ok:
            subprocess.run(['umount', ro], capture_output=True)
            pytest.skip('running as root without the right to mount: no folder can be made read-only for root')
        return ro, lambda: subprocess.run(['umount', ro], check=True)
    shutil.rmtree(ro)
    os.rename(copy, ro)
    for d, _, files in os.walk(ro):
        os.chmod(d, 0o555)
        for f in files:
            os.chmod(os.path.join(d, f), 0o444)
    return ro, lambda: [os.chmod(d, 0o755) for d, _, _ in os.walk(ro)]


def test_a_read_only_folder_still_reports_a_finished_sweep(finished, tmp_path, capsys):
    out, undo = _read_only_copy(finished, str(tmp_path))
    try:
        with pytest.raises(OSError):  # really read-only for this process
            open(os.path.join(out, 'probe'), 'w')
        assert main(['sweep', '--out', out, *ARGV]) == 0
        text = capsys.readouterr().out
        assert 'recommendation: ratio' in text and 'read-only' in text and '2 run(s) already finished' in text
        # Runs left to train: one line, exit 2, before any training.
        assert main(['sweep', '--out', out, *ARGV, '--ratios', '0.75,1']) == 2
        assert 'is read-only' in _err(capsys)
    finally:
        undo()
