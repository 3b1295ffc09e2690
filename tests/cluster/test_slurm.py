"""``--backend slurm`` against a real one-node Slurm (Debian's slurm-wlm + munge, started by conftest.py):
the same numbers as the local backend, a cancelled job and a killed driver lose nothing and duplicate nothing, a
requeued job resumes from its checkpoint, and Slurm's refusals are one line and exit 2.

Most of these tests' time is job starts (each job is a fresh interpreter importing Composer), so scenarios are
built to start as few as the checks need: several checks read one scenario's runs."""
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import types

import pytest

from composer_sched.cli import main
from composer_sched.sweep import ResultsStore, SweepTarget, run_sweep

pytestmark = pytest.mark.slow

RATIOS = [0.5, 1.0]  # a trunk and its branch: two job starts, each ~10 s of imports


@pytest.fixture(autouse=True)
def _prompt_driver(monkeypatch):
    # The in-process drivers look at squeue every 0.5 s, not 2 s: a cancelled or killed job is seen gone sooner.
    from composer_sched.sweep.slurm import SlurmBackend

    monkeypatch.setattr(SlurmBackend, 'squeue_every_s', 0.5)
    monkeypatch.setattr(SlurmBackend, 'gone_after_s', 0.5)


def _rows(folder):
    return ResultsStore(os.path.join(folder, 'results.sqlite')).rows()


def _key(rows):
    return sorted((r['run_id'], r['status'], r['batches'], r['branched_from'], r['metrics']) for r in rows)


def _job_ids(folder):
    runs = os.path.join(folder, 'slurm', 'runs')
    out = {}
    for rid in os.listdir(runs):
        path = os.path.join(runs, rid, 'job.json')
        if not os.path.exists(path):  # the run's folder is made before its job id is written (atomically) there
            continue
        with open(path) as f:
            out[rid] = json.load(f)['job_ids']
    return out


def _wait(what, ok, timeout=180.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = ok()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')


def _running(slurm):
    lines = slurm.run('squeue', '-h', '-r', '-o', '%i %T %j', check=False).splitlines()
    return [line.split()[0] for line in lines if ' RUNNING ' in line]


def _queued(slurm):
    return slurm.run('squeue', '-h', '-r', '-t', 'PENDING', '-o', '%i', check=False).split()


def test_killed_driver_adopts_jobs_a_requeued_trunk_resumes_and_a_cancelled_branch_is_redone_once(slurm, tmp_path):
    # One sweep, three drivers: 1. the first is SIGKILLed while the trunk runs; 2. rerun, it adopts the queued
    # and running jobs (submits nothing); while it waits, a queued branch is scancelled (it records that run failed)
    # and the trunk is preempted with the signal submitit's time-limit handling gets (USR2): the job requeues
    # itself and Composer's autoresume takes it from its last checkpoint (every 50 batches), not from batch 0;
    # 3. rerun, only the cancelled run is submitted again. In the end every run is recorded once, done.
    # Once past its first checkpoint the trunk's process is stopped (SIGSTOP) until the signal is pending on it: the
    # adoption, the cancel and the signal's way through Slurm happen while it trains nothing, so a short trunk is
    # never over before the signal lands, on an idle machine or a loaded one.
    budget, every = 200, 50
    target = SweepTarget(None, (f'max_duration={budget}ba', 'eval.subset_num_batches=1'))
    folder = tmp_path / 'sweep'
    # The first driver is a fork of this process (Composer already imported, as the CLI's process would have it by
    # then): a process of its own to SIGKILL without an interpreter start.
    printed = tmp_path / 'first-driver.txt'

    def echo(line):  # in the fork: what it printed, for this process to read
        with open(printed, 'a') as f:
            f.write(line + '\n')

    first = multiprocessing.get_context('fork').Process(target=run_sweep, args=(target, RATIOS, 1, folder), kwargs={
        'backend': 'slurm', 'slurm': [f'checkpoint_every={every}'], 'echo': echo, 'plot': False})
    first.start()
    try:
        _wait('the trunk running', lambda: os.path.isdir(folder / 'slurm' / 'runs') and len(_job_ids(folder)) == 2
              and _running(slurm))
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.join()
    submitted = _job_ids(folder)
    assert all(len(j) == 1 for j in submitted.values())
    first_lines = printed.read_text().splitlines()
    assert sum('submitted Slurm job' in line for line in first_lines) == 2  # trunks, then the trunk's branches
    assert any('after job' in line for line in first_lines)  # the branch array depends on the trunk's job
    trunk = next(rid for rid in submitted if rid.endswith('-r1-s0'))
    victim = next(j[-1] for rid, j in submitted.items() if rid.endswith('-r0.5-s0'))
    log = os.path.join(folder, 'slurm', 'runs', trunk, 'batches.log')

    lines, result = [], {}
    driver = threading.Thread(target=lambda: result.setdefault('out', run_sweep(
        target, RATIOS, 1, folder, backend='slurm', echo=lines.append, plot=False)))
    driver.start()
    task = _stopped_when(slurm, submitted[trunk][-1],  # past a checkpoint
                         lambda: len(_batches_log(folder, trunk, missing_ok=True)) >= every + 20)
    try:
        stopped_at = len(_batches_log(folder, trunk))
        assert stopped_at < budget - every, stopped_at  # a signal now is one long before the run's end
        _wait('the jobs adopted', lambda: sum('adopted Slurm job' in line for line in lines) == 2)
        assert victim not in _running(slurm)  # still waiting for the trunk: cancelled before it costs a job start
        slurm.run('scancel', victim)
        slurm.run('scancel', '--signal=USR2', submitted[trunk][-1])
        _wait('the signal pending on the trunk', lambda: _pending(task, signal.SIGUSR2), 30)
    finally:
        os.kill(task, signal.SIGCONT)  # it takes the signal first, then goes on (its handler requeues the job)
    driver.join(240)
    second = result['out']
    assert not any('submitted Slurm job' in line for line in lines)
    assert _job_ids(folder) == submitted  # nothing submitted twice
    assert second.exit_code == 1 and len(second.failed) == 1
    failed = next(r for r in second.rows if r['status'] == 'failed')
    assert f'Slurm job {victim} ended without a result' in failed['error']

    # The requeued trunk: resumed from a checkpoint, at most one checkpoint interval trained twice.
    row = next(r for r in second.rows if r['run_id'] == trunk)
    assert row['status'] == 'done' and row['batches'] == budget
    batches = _batches_log(folder, trunk)
    restart = next(i for i in range(1, len(batches)) if batches[i] <= batches[i - 1])  # where attempt 2 starts
    resumed_from = batches[restart] - 1
    assert resumed_from >= every and resumed_from % every == 0  # from a checkpoint, not from scratch
    assert budget < len(batches) <= budget + every
    assert sorted(set(batches)) == list(range(1, budget + 1))
    # Its row counts what both attempts cost: every batch trained (twice-trained ones twice), all their time.
    assert row['trained_batches'] == len(batches)
    assert row['wall_s'] >= sum(_batch_seconds(folder, trunk)) > 0
    with open(os.path.join(os.path.dirname(log), 'row.json')) as f:
        assert json.load(f)['slurm_restarts'] >= 1
    # The final checkpoint the requeued run kept (for `--extend`) holds its whole LR history, both attempts': a
    # longer ratio would continue it.
    from composer_sched.sweep.plan import plan_sweep

    (run,) = plan_sweep(target.load(), [2.0], [0], str(tmp_path / 'c'), final_dir=str(folder / 'final'),
                        extend=True).runs
    assert run.continue_from == str(folder / 'final' / f'{trunk}.pt') and run.branch_batch == budget

    third = run_sweep(target, RATIOS, 1, folder, backend='slurm', echo=lambda line: None, plot=False)
    assert third.exit_code == 0 and third.skipped == 1 and third.ran == 1
    again = _job_ids(folder)
    assert [len(again[rid]) for rid in sorted(again)] == [2 if submitted[rid][-1] == victim else 1
                                                          for rid in sorted(again)]
    rows = _rows(folder)
    assert sorted(r['run_id'] for r in rows) == sorted(r.run_id for r in third.plan.runs)  # each once
    assert all(r['status'] == 'done' and r['batches'] == budget * r['ratio'] for r in rows)
    # The same numbers as the local backend, to the digit: the requeued trunk and the branch started from its
    # checkpoint (in the third driver's job) as an uninterrupted trunk and its branch in this process.
    local = run_sweep(target, RATIOS, 1, tmp_path / 'local', echo=lambda line: None, plot=False)
    assert all(r['branched_from'] for r in local.rows if r['ratio'] < 1)  # branches really started from the trunk
    assert _key(rows) == _key(local.rows)


def test_bad_partition_is_one_line_and_exit_2(slurm, tmp_path, capsys):
    code = main(['sweep', '--backend', 'slurm', '--slurm', 'partition=nosuchpart', '--out', str(tmp_path / 's'),
                 'max_duration=8ba'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert 'partition=nosuchpart' in err and 'invalid partition' in err.lower()
    assert not (tmp_path / 's' / 'slurm').exists()  # refused before any submission


def test_ctrl_c_offers_to_cancel_the_sweeps_jobs(slurm, tmp_path):
    import pty

    folder = tmp_path / 'sweep'
    argv = ['sweep', '--backend', 'slurm', '--ratios', '1', '--out', str(folder), '--no-plot', 'max_duration=400ba',
            'eval.subset_num_batches=1']
    # A job holding the whole node keeps the sweep's job queued: in flight, but no job start (and no KillWait) to pay.
    holder = slurm.run('sbatch', '--parsable', '--exclusive', '-o', '/dev/null', '--wrap', 'sleep 300').strip()
    # Running before the sweep submits (a job of an earlier test may still be ending: the holder waits for it).
    _wait('the holder running', lambda: holder in _running(slurm), 60)
    # The driver asks only when a person is there to answer: the CLI runs on a terminal, in a fork of this process
    # (Composer already imported: no interpreter start to pay), as a process of its own that gets the SIGINT.
    pid, leader = pty.fork()
    if pid == 0:
        code = 3
        try:
            sys.stdin = open(0, closefd=False)  # the terminal, not pytest's capture
            sys.stdout = open(1, 'w', buffering=1, closefd=False)
            sys.stderr = open(2, 'w', buffering=1, closefd=False)
            code = main(argv)
        finally:
            os._exit(code)
    seen = b''

    def read_until(text):
        nonlocal seen
        end = time.monotonic() + 120
        while text not in seen and time.monotonic() < end:
            try:
                seen += os.read(leader, 4096)
            except OSError:  # the driver closed its terminal
                break
        assert text in seen, seen.decode()

    def exit_code():
        end = time.monotonic() + 60
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        raise AssertionError('the driver did not exit')

    try:
        read_until(b'submitted Slurm job')
        job = _wait('the run queued', lambda: next(
            (j for j in _queued(slurm) if j in sum(_job_ids(folder).values(), [])), None))
        assert holder in _running(slurm)  # still holding: the sweep's job never started
        os.kill(pid, signal.SIGINT)
        read_until(b'[y/N]')
        assert job.encode() in seen.split(b'cancel this sweep')[-1]  # the question names the jobs
        os.write(leader, b'y\n')
        assert exit_code() == 130
    finally:
        try:  # a driver still there after a failed check
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:  # reaped above
            pass
        os.close(leader)
    _wait('the job cancelled', lambda: job not in slurm.run('squeue', '-h', '-r', '-o', '%i').split(), 30)
    assert holder in _running(slurm)  # the sweep's jobs only
    slurm.run('scancel', holder)


def test_a_driver_killed_during_sbatch_finds_its_array_by_name(slurm, tmp_path):
    # The driver writes which runs an array holds and its job name before sbatch, and the job ids after: a
    # driver killed in between leaves the first file only, and its rerun must find the jobs rather than submit
    # the runs again.
    from composer_sched.sweep.slurm import SlurmBackend

    root = tmp_path / 'sweep' / 'slurm'
    os.makedirs(root / 'runs')
    (root / 'submitting-abc.json').write_text(json.dumps({'name': 'cs-abc', 'run_ids': ['run-a', 'run-b']}))
    array = slurm.run('sbatch', '--parsable', '--array=0-1', '-J', 'cs-abc', '-o', '/dev/null', '--wrap',
                      'sleep 60').strip()
    backend = SlurmBackend(str(tmp_path / 'sweep'), {}, {'cpus': 1, 'gpus': 0, 'processes': 1}, {1.0: 10},
                           echo=lambda line: None)
    assert [backend._job_ids('run-a'), backend._job_ids('run-b')] == [[f'{array}_0'], [f'{array}_1']]
    assert not (root / 'submitting-abc.json').exists()



def _task_pid(slurm, job):
    """The pid of the Slurm job ``job``'s training process (submitit's task under srun), or ``None`` yet."""
    from tests.cluster.harness import processes_of

    for pid in processes_of(slurm.conf):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
            if b'submitit.core._submit' not in argv or os.path.basename(argv[0]) == b'srun':  # the task, not srun
                continue
            with open(f'/proc/{pid}/environ', 'rb') as f:
                env = dict(kv.split(b'=', 1) for kv in f.read().split(b'\0') if b'=' in kv)
        except OSError:
            continue
        ids = {env.get(b'SLURM_JOB_ID', b'').decode(),
               f"{env.get(b'SLURM_ARRAY_JOB_ID', b'').decode()}_{env.get(b'SLURM_ARRAY_TASK_ID', b'').decode()}"}
        if job in ids:
            return pid
    return None


def _stopped_when(slurm, job, ok):
    """Stop (SIGSTOP) Slurm job ``job``'s training process as soon as ``ok()`` holds; returns its pid. What it
    trained stays as it is then until it is continued or killed, however slow the machine or Slurm's signals."""
    task = _wait(f'job {job} training', lambda: _task_pid(slurm, job))
    _wait('enough trained', ok)
    os.kill(task, signal.SIGSTOP)
    _wait('the job stopped', lambda: _proc_state(task) == 'T', 30)
    return task


def _proc_state(pid):
    with open(f'/proc/{pid}/stat') as f:
        return f.read().rpartition(')')[2].split()[0]


def _pending(pid, sig):
    """Whether signal ``sig`` waits, undelivered, on process ``pid`` (a stopped process takes it when continued)."""
    with open(f'/proc/{pid}/status') as f:
        masks = [int(line.split()[1], 16) for line in f if line.startswith(('SigPnd:', 'ShdPnd:'))]
    return any(m >> (int(sig) - 1) & 1 for m in masks)


def _log(folder, run_id, missing_ok=False):
    try:
        with open(os.path.join(folder, 'slurm', 'runs', run_id, 'batches.log')) as f:
            return [line.split() for line in f if line.strip()]
    except OSError:
        if missing_ok:
            return []
        raise


def _batches_log(folder, run_id, missing_ok=False):
    """The batches a run's jobs trained, in order, every attempt (the job's own record, ``batches.log``)."""
    return [int(b) for b, _ in _log(folder, run_id, missing_ok)]


def _batch_seconds(folder, run_id):
    """The seconds each line of ``batches.log`` took."""
    return [float(s) for _, s in _log(folder, run_id)]


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    return err


def test_extend_on_slurm_continues_the_kept_final_and_a_killed_continuation_resumes_its_own_checkpoint(
        slurm, tmp_path, local_extension, capsys, monkeypatch):
    # One folder (a copy of the in-process sweep's at ratio 1, given as a relative path, as users do), one run id
    # at ratio 5 trained three ways, and `--extend` to the longer ratios alongside it (their jobs share its
    # driver and its array instead of a sweep of their own):
    # 1. the run of ratio 5 trains from scratch (no --extend) and its job is SIGKILLed after a checkpoint;
    # 2. rerun with --extend, the same run id is now a continuation: it starts from ratio 1's final checkpoint, not
    #    from the from-scratch run's checkpoint (a mix of both recorded as continued), and is SIGKILLed too;
    # 3. rerun with --extend to 2 and 5: the jobs get the kept final checkpoint's path, read it on the node, train
    #    only the batches after it and score what the in-process backend's extension does (2; 1.5 is the same code
    #    path, checked in-process and on Ray: one job start less, and the array fits the node's 2 CPUs at once);
    #    the run of 5 resumes from its own last checkpoint and ends as an uninterrupted in-process continuation does.
    # The final checkpoint they read stays as it was kept throughout.
    # SIGKILL, as the kernel's OOM killer or a dying node ends a job (scancel's SIGTERM would leave it KillWait
    # seconds to go on, enough to finish here).
    import shutil

    from tests.cluster.extending import COSINE, OLD, TARGET, check_extension, digest, final_of

    first, local_more, base = local_extension
    # Each kill comes while the job is stopped (SIGSTOP) just past a checkpoint: it cannot run out of batches first.
    every, ratio, budget = 20, 5.0, 80
    monkeypatch.chdir(tmp_path)
    folder, local = 'sweep', 'local'
    for to in (folder, local):
        shutil.copytree(base, to)
    final = final_of(folder, first.rows[0]['config_hash'])
    kept = digest(final)
    rid = f'{first.rows[0]["config_hash"]}-r5-s0'

    def trained():
        return _batches_log(folder, rid, missing_ok=True)

    def attempts():  # batches.log split where a new attempt starts again from an earlier batch
        out = []
        for b in trained():
            if not out or b <= out[-1][-1]:
                out.append([])
            out[-1].append(b)
        return out

    def killed_after_a_checkpoint(extend):
        result, start = {}, len(trained())
        jobs = len(_job_ids(folder).get(rid, [])) if os.path.isdir(os.path.join(folder, 'slurm', 'runs')) else 0
        driver = threading.Thread(target=lambda: result.setdefault('out', run_sweep(
            TARGET, [ratio], 1, folder, backend='slurm', slurm=[f'checkpoint_every={every}'], extend=extend,
            echo=lambda line: None, plot=False)))
        driver.start()
        _wait('its job submitted', lambda: os.path.isdir(os.path.join(folder, 'slurm', 'runs'))
              and len(_job_ids(folder).get(rid, [])) > jobs)
        job = _job_ids(folder)[rid][-1]
        _stopped_when(slurm, job, lambda: len(trained()) >= start + every + 5)
        slurm.run('scancel', '--signal=KILL', '--full', job)
        driver.join(120)
        assert result['out'].exit_code == 1 and result['out'].rows[0]['status'] == 'failed'
        assert digest(final) == kept

    killed_after_a_checkpoint(extend=False)
    assert attempts()[0][0] == 1  # from scratch
    killed_after_a_checkpoint(extend=True)
    assert attempts()[1][0] == OLD + 1  # from the final, not from the first attempt's checkpoint
    lines: list = []
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))  # the tracker's migrated empty store: not ~'s
    for k in ('MLFLOW_TRACKING_URI', 'MLFLOW_EXPERIMENT_NAME', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID'):
        monkeypatch.delenv(k, raising=False)
    again = run_sweep(TARGET, [2.0, ratio], 1, folder, backend='slurm', extend=True, echo=lines.append,
                      plot=False, log='mlflow')
    assert again.exit_code == 0 and digest(final) == kept

    # The extension to ratio 2, as the in-process backend's (its row; the table and CSV also hold 5).
    more = types.SimpleNamespace(exit_code=again.exit_code, rows=[r for r in again.rows if r['ratio'] == 2.0],
                                 report=again.report, outputs=again.outputs)
    check_extension(first, more, local_more, ratios=[2.0])
    assert any(line.startswith('  continuing: ratio 2 seed 0 continues the finished run of ratio 1') for line in lines)
    submitted = [line for line in lines if 'submitted Slurm job' in line]
    assert len(submitted) == 1 and '(2 run(s))' in submitted[0]  # one array; the finished run holds nothing back
    for row in more.rows:  # what the job trained, batch by batch: the extra ones only, once
        assert _batches_log(folder, row['run_id']) == list(range(OLD + 1, row['batches'] + 1))

    # The killed continuation, resumed.
    row = next(r for r in again.rows if r['ratio'] == ratio)
    scratch, cont, resumed = attempts()
    assert resumed[0] - 1 in range(every * (OLD // every + 1), cont[-1] + 1, every)  # from its own checkpoint
    assert resumed[-1] == budget and sorted(set(cont + resumed)) == list(range(OLD + 1, budget + 1))
    assert row['batches'] == budget and row['branch_batch'] == OLD and row['origin'].startswith('continued from')
    # What the run cost: both of the continuation's attempts (a batch trained twice counts twice), not the
    # from-scratch attempt's batches, which trained another run (its checkpoints were emptied).
    assert row['trained_batches'] == len(cont) + len(resumed)
    assert row['wall_s'] >= sum(_batch_seconds(folder, rid)[len(scratch):]) > 0
    alone = run_sweep(TARGET, [ratio], 1, local, extend=True, echo=lambda line: None, plot=False).rows[0]
    assert (row['origin'], row['metrics']) == (alone['origin'], alone['metrics'])

    # The jobs logged into the sweep's MLflow children from inside Slurm (the sweep's parent, a child per run): each
    # child's training curve is what its job trained, batch for batch (the resumed run's: its last attempt's).
    from tests.sweep.tracking_helpers import sweep_tree

    client, parent, children = sweep_tree(f'sqlite:///{os.path.abspath(folder)}/mlflow.db')
    assert sorted(children) == [(2.0, 0), (ratio, 0)] and parent.data.tags['backend'] == 'slurm'
    steps = {r: sorted(m.step for m in client.get_metric_history(child.info.run_id, 'loss/train/total'))
             for (r, _), child in children.items()}
    assert steps == {2.0: list(range(OLD, 32)), ratio: [b - 1 for b in resumed]}, (steps, resumed)

    # Refused on the Slurm backend as on the local one: one line, exit 2, nothing submitted.
    jobs = _job_ids(folder)
    args = ['sweep', *COSINE, '--out', folder, '--no-plot', '--backend', 'slurm', '--extend']
    assert main([*args, '--ratios', '0.5']) == 2
    assert '--extend: 1 run(s) have nothing to continue' in _one_line(capsys)
    assert main([*args, '--ratios', '30', '--slurm', 'partition=nosuchpart']) == 2
    assert 'invalid partition' in _one_line(capsys).lower()
    assert main([*args, '--ratios', '30', '--predict', 'only']) == 2
    assert '--extend is not allowed with --predict only' in _one_line(capsys)
    assert _job_ids(folder) == jobs
