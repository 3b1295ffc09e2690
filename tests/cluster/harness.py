"""A real one-node Slurm (Debian's slurm-wlm and munge) started in a temporary folder, for the tests.

:func:`start_slurm` writes ``slurm.conf`` from ``slurm.conf.in`` with free ports, starts ``munged`` (its own
socket and key in the folder), ``slurmctld`` and ``slurmd``, and waits until the node is idle; :meth:`Slurm.stop`
ends exactly those daemons by their pids and waits for each. Every cluster lives in its own folder with its own
ports, so pytest-xdist workers can each start one. Clients find a cluster through ``SLURM_CONF``
(:attr:`Slurm.env`).
"""
from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from typing import Optional

from tests.launch import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
DAEMONS = ('munged', 'slurmctld', 'slurmd', 'sbatch', 'mungekey')


def missing() -> Optional[str]:
    """Why a cluster cannot be started here (a missing program, not root), or ``None``."""
    for prog in DAEMONS:
        if shutil.which(prog) is None and not os.path.exists(f'/usr/sbin/{prog}'):
            return f'{prog} is not installed (apt-get install slurm-wlm munge; .ci/run does it on CI)'
    if os.geteuid() != 0:
        return 'a test Slurm needs root (SlurmUser=root, munged as the munge user)'
    return None


def _which(prog: str) -> str:
    return shutil.which(prog) or f'/usr/sbin/{prog}'


@dataclasses.dataclass
class Slurm:
    """A running test cluster: its folder, config, environment for clients, and daemon pids."""
    folder: str
    conf: str
    pids: dict

    @property
    def env(self) -> dict:
        return {**os.environ, 'SLURM_CONF': self.conf}

    def run(self, *cmd: str, check: bool = True) -> str:
        """Run a Slurm client command against this cluster and return its stdout."""
        out = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=60)
        if check and out.returncode:
            raise RuntimeError(f'{" ".join(cmd)}: {out.stderr.strip()}')
        return out.stdout

    def stop(self) -> None:
        """Cancel the jobs left, end this cluster's daemons by pid (slurmd, slurmctld, then munged), waiting for
        each, then the job processes the daemons left behind (found by this cluster's ``SLURM_CONF``)."""
        if self.pids.get('slurmctld'):
            jobs = self.run('squeue', '-h', '-o', '%i', check=False).split()
            if jobs:
                self.run('scancel', *jobs, check=False)
            end = time.monotonic() + 20
            while time.monotonic() < end and self.run('squeue', '-h', '-o', '%i', check=False).strip():
                time.sleep(0.2)
        for name in ('slurmd', 'slurmctld', 'munged'):
            pid = self.pids.get(name) or _read_pid(os.path.join(self.folder, f'{name}.pid'))
            if pid:
                _terminate(pid)
        for pid in processes_of(self.conf):  # a step whose controller went away waits for it forever
            _terminate(pid, timeout=2.0)
        shutil.rmtree(self.folder, ignore_errors=True)


def processes_of(conf: str) -> list[int]:
    """Pids of processes started with ``SLURM_CONF=conf`` (this cluster's daemons, steps and jobs)."""
    marker = f'SLURM_CONF={conf}'.encode()
    out = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f'/proc/{entry}/environ', 'rb') as f:
                if marker in f.read().split(b'\0'):
                    out.append(int(entry))
        except OSError:
            continue
    return out


def _read_pid(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass
    try:  # and so does anyone's zombie
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rpartition(')')[2].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def _terminate(pid: int, timeout: float = 15.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _wait_for(what: str, ok, timeout: float, log: Optional[str] = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ok():
            return
        time.sleep(0.2)
    tail = ''
    if log and os.path.exists(log):
        with open(log) as f:
            tail = ''.join(f.readlines()[-15:])
    raise RuntimeError(f'test Slurm: {what} did not come up within {timeout:.0f}s\n{tail}')


def start_slurm(folder: str) -> Slurm:
    """Start munged, slurmctld and slurmd in ``folder`` (created); returns the running :class:`Slurm`.

    Raises:
        RuntimeError: a daemon did not start (with the tail of its log).
    """
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    munge_dir = os.path.join(folder, 'munge')
    os.makedirs(munge_dir)
    for sub in ('state', 'spool'):
        os.makedirs(os.path.join(folder, sub))
    munge = pwd.getpwnam('munge')
    key = os.path.join(munge_dir, 'munge.key')
    subprocess.run([_which('mungekey'), '--create', f'--keyfile={key}'], check=True, capture_output=True)
    for path in (munge_dir, key):
        os.chown(path, munge.pw_uid, munge.pw_gid)
    os.chmod(munge_dir, 0o755)
    os.chmod(key, 0o400)
    socket_path = os.path.join(munge_dir, 'munge.socket')
    pids: dict = {}
    cluster = Slurm(folder, os.path.join(folder, 'slurm.conf'), pids)
    try:
        subprocess.run(['runuser', '-u', 'munge', '--', _which('munged'), f'--socket={socket_path}',
                        f'--key-file={key}', f'--pid-file={munge_dir}/munged.pid',
                        f'--log-file={munge_dir}/munged.log', f'--seed-file={munge_dir}/munged.seed'],
                       check=True, capture_output=True, timeout=30)
        _wait_for('munged', lambda: _read_pid(f'{munge_dir}/munged.pid') is not None and subprocess.run(
            f'munge -n -S {socket_path} | unmunge -S {socket_path}', shell=True, capture_output=True).returncode == 0,
            15, f'{munge_dir}/munged.log')
        pids['munged'] = _read_pid(f'{munge_dir}/munged.pid')

        host = socket.gethostname().split('.')[0]
        # The node as slurmd sees it (a config claiming more CPUs or memory than it finds makes the node invalid).
        seen = dict(kv.split('=', 1) for kv in subprocess.run(
            [_which('slurmd'), '-C'], capture_output=True, text=True, timeout=30).stdout.split() if '=' in kv)
        cpus = int(seen.get('CPUs') or os.cpu_count() or 1)
        mem = min(int(seen.get('RealMemory') or 1024), 1024 * cpus)  # MB; jobs take DefMemPerCPU each
        with open(os.path.join(HERE, 'slurm.conf.in')) as f:
            text = f.read()
        for k, v in {'HOST': host, 'CTLD_PORT': free_port(), 'SLURMD_PORT': free_port(), 'DIR': folder,
                     'CPUS': cpus, 'MEM': mem, 'MEM_PER_CPU': mem // cpus}.items():
            text = text.replace(f'@{k}@', str(v))
        with open(cluster.conf, 'w') as f:
            f.write(text)
        env = cluster.env
        subprocess.run([_which('slurmctld'), '-i', '-f', cluster.conf], env=env, check=True, capture_output=True,
                       timeout=30)
        _wait_for('slurmctld', lambda: _read_pid(f'{folder}/slurmctld.pid') is not None
                  and subprocess.run(['scontrol', 'ping'], env=env, capture_output=True).returncode == 0,
                  20, f'{folder}/slurmctld.log')
        pids['slurmctld'] = _read_pid(f'{folder}/slurmctld.pid')
        subprocess.run([_which('slurmd'), '-f', cluster.conf], env=env, check=True, capture_output=True, timeout=30)
        _wait_for('slurmd', lambda: 'idle' in cluster.run('sinfo', '-h', '-o', '%T', check=False), 30,
                  f'{folder}/slurmd.log')
        pids['slurmd'] = _read_pid(f'{folder}/slurmd.pid')
    except Exception:
        cluster.stop()
        raise
    return cluster
