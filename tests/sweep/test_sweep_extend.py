"""Extending a finished sweep (issue 16 part 3): the trunk keeps a checkpoint at the last batch of its stable phase;
a later sweep in the same folder with longer ratios continues it, and its runs equal independent runs bit for bit."""
import os

import pytest
import torch

from composer_sched.sweep import SweepTarget, run_sweep
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import RunSpec, plan_sweep

SMALL = ('max_duration=2ep', 'schedulers[0].t_warmup=4ba', 'schedulers[0].t_cooldown=0.2dur')


@pytest.mark.slow
def test_a_longer_ratio_continues_the_kept_stable_phase_bit_for_bit(tmp_path):
    target = SweepTarget(None, SMALL)
    loaded = target.load()
    h = loaded.fingerprint
    stable = str(tmp_path / 'stable')
    (first,) = plan_sweep(loaded, [1.0], [2], str(tmp_path / 'ckpt'), stable_dir=stable).runs
    (keep_b, keep_path), = first.keep_at
    # The stable phase of 44 batches with a 20% cool-down ends where the cool-down starts.
    assert 30 <= keep_b < 44 and first.load_from is None
    assert execute_run(target, first, h)['status'] == 'done' and os.path.isfile(keep_path)

    plan = plan_sweep(loaded, [1.5, 2.0], [2], str(tmp_path / 'ckpt'), stable_dir=stable)
    trunk, branch = plan.runs
    assert trunk.ratio == 2.0 and trunk.load_from == keep_path and trunk.branch_batch == keep_b
    assert trunk.trunk_id == first.run_id and branch.trunk_id == trunk.run_id and branch.branch_batch > keep_b
    assert any(r.startswith('extending: ratio 2 seed 2 continues the stable phase of ratio 1') for r in plan.reasons)
    rows = {}
    # (The branches of the extended trunk use the ordinary branch mechanism, checked by test_sweep_trunks.py.)
    for name, spec in (('trunk', trunk), ('alone2', RunSpec(trunk.run_id, 2.0, 2))):
        rows[name] = execute_run(target, spec, h, save_weights=str(tmp_path / f'{name}.pt'))
        assert rows[name]['status'] == 'done', rows[name].get('error')
    assert rows['trunk']['trained_batches'] == 88 - keep_b < rows['alone2']['trained_batches'] == 88
    for mine, alone in (('trunk', 'alone2'),):
        assert rows[mine]['metrics'] == rows[alone]['metrics'] and rows[mine]['batches'] == rows[alone]['batches']
        wm, wa = torch.load(tmp_path / f'{mine}.pt'), torch.load(tmp_path / f'{alone}.pt')
        assert list(wm) == list(wa) and all(torch.equal(wm[k], wa[k]) for k in wm)


@pytest.mark.slow
def test_sweep_with_longer_ratios_in_the_same_folder_pays_only_the_new_batches(tmp_path):
    out = str(tmp_path / 'sweep')
    target = SweepTarget(None, SMALL)
    first = run_sweep(target, [0.5, 1.0], out_dir=out, echo=lambda s: None, plot=False)
    assert first.exit_code == 0 and os.listdir(os.path.join(out, 'stable'))
    assert not os.path.exists(os.path.join(out, 'checkpoints'))  # branch checkpoints go, the kept one stays
    lines = []
    more = run_sweep(target, [1.5, 2.0], out_dir=out, echo=lines.append, plot=False)
    assert more.exit_code == 0 and any('extending: ratio 2' in line for line in lines)
    rows = {r['ratio']: r for r in more.rows}
    trunk1 = next(r for r in first.rows if r['ratio'] == 1.0)
    assert rows[2.0]['branched_from'] == trunk1['run_id']
    assert rows[2.0]['trained_batches'] == 88 - rows[2.0]['branch_batch'] < 88
    assert rows[1.5]['branched_from'] == rows[2.0]['run_id']
    # The new sweep trained fewer batches than the new ratios alone, and fewer than a fresh shared sweep.
    new = sum(r['trained_batches'] for r in more.rows)
    assert new < more.plan.budgets[2.0] + more.plan.budgets[1.5] - rows[1.5]['branch_batch']
