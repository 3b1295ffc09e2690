"""A sweep in the trackers users already look at: MLflow (one parent run per sweep, a child per run) and W&B.

``composer-sched sweep --log mlflow`` (or ``loggers: {mlflow: {...}}`` in the recipe) logs to the recipe's
``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else a local store in the sweep folder
(``sqlite:///DIR/mlflow.db``, artifacts in ``DIR/mlartifacts``; no server, no network):

* the **parent** run (one per recipe configuration and folder) holds the recipe (``recipe.yaml`` and flattened
  params), the fingerprint, ratios, seeds and backend (tags), ``results.csv``, ``tradeoff.png``, the trunk plot
  ``schedules.png`` and ``report.txt`` (artifacts), per-ratio ``r<ratio>/<metric>_mean|_std``, ``cost_batches``
  (metrics) and the recommendation (tags and metrics);
* a **child** per trained (ratio, seed), nested by ``mlflow.parentRunId``: what Composer's ``MLFlowLogger`` logs
  (loss, eval metrics, LR), the same keys again under ``frac/`` with the step in thousandths of the run's budget
  (``0..1000``), so curves of different ratios overlay; tags ``ratio``, ``seed``, ``trunk``, ``branch_batch``,
  ``status``; predicted rows are children tagged ``predicted``.

Only the sweep driver writes ``results.sqlite``: it creates the parent and the children before a worker gets a
run (a new local store: from its writer thread, while the first run trains) and stores each MLflow run id against
the sqlite ``run_id`` (table ``tracked``), so a rerun or an extension reuses the parent and the finished children,
and a retried run logs into its failed child (``attempts`` tag), never a new one.

Training never waits for MLflow, and the training process does no MLflow work: every MLflow call of the driver
(and of the runs in its process) is made by a writer process (:class:`_Writer`), on another core. A run (rank 0)
keeps what Composer's ``MLFlowLogger`` would log in memory and sends it from a thread every :data:`LIVE_SECONDS`;
what it has not sent when it ends travels back with its row, is stored with the row in ``results.sqlite``
(``tracked_pending``, same transaction) and handed to the writer process by the driver's writer thread, which also
logs the row's numbers, a branch's trunk prefix and, at the end, the parent; the pending rows are deleted once
MLflow has them. A tracker that cannot be reached is a ``ValueError`` before training; one that fails later (or a
writer process that dies) is reported, never costs a result, and what it missed is sent by the next sweep in the
folder.

``--log wandb``: every run through Composer's ``WandBLogger`` with ``group=<recipe>-<fingerprint>``, the same tags
and a stable id, and a ``sweep-summary`` run in the group (the parent's counterpart: the per-ratio table, the
recommendation, the recipe, the plots and files); ``WANDB_MODE=offline`` works without an account (files under
``DIR/wandb``).

mlflow and wandb are imported inside functions: the CLI starts without them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import math
import operator
import os
import re
import sys
import threading
from typing import Any, Callable, Iterator, Optional, Sequence

__all__ = ['TRACKERS', 'parse_log', 'start_writer', 'open_tracking', 'SweepTracking', 'run_loggers']

TRACKERS = ('mlflow', 'wandb')

#: MLFlowLogger arguments the sweep sets itself (a recipe's values for these are ignored).
_RESERVED = ('run_name', 'run_group', 'resume', 'tracking_uri', 'experiment_name', 'tags', 'rank_zero_only')


def parse_log(text: Optional[str | Sequence[str]]) -> tuple[str, ...]:
    """The trackers of ``--log``: a comma-separated subset of :data:`TRACKERS`.

    Raises:
        ValueError: an unknown tracker name.

    Example:
        >>> parse_log('mlflow,wandb'), parse_log(None)
        (('mlflow', 'wandb'), ())
    """
    if not text:
        return ()
    items = [t.strip().lower() for t in (text.split(',') if isinstance(text, str) else text) if t.strip()]
    bad = [t for t in items if t not in TRACKERS]
    if bad:
        raise ValueError(f'--log={bad[0]!r} is not allowed: use {" or ".join(TRACKERS)} (comma-separated for both).')
    return tuple(dict.fromkeys(items))


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    if text and ('Max retries exceeded' in text[0] or 'NewConnectionError' in text[0]):
        return 'no server answers there (connection refused or timed out)'
    return f'{type(e).__name__}: {text[0][:200]}' if text else type(e).__name__


def _ratio_key(ratio: float) -> str:
    return f'r{ratio:g}'


def _flatten(cfg: Any, prefix: str = '') -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
    elif isinstance(cfg, list):
        for i, v in enumerate(cfg):
            out.update(_flatten(v, f'{prefix}{i}.'))
    else:
        out[prefix[:-1]] = str(cfg)[:6000]
    return out


#: MLflow's REST retries for a run's logging (unless set): a server gone mid-sweep costs seconds per run, not the
#: minutes of MLflow's defaults (7 retries with a doubling back-off).
#: Nor does each run print MLflow's 'View run at' links into the sweep's log.
_HTTP_ENV = {'MLFLOW_HTTP_REQUEST_MAX_RETRIES': '2', 'MLFLOW_HTTP_REQUEST_TIMEOUT': '30',
             'MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT': 'true'}


@contextlib.contextmanager
def _http_env(values: dict[str, str], force: bool = False) -> Iterator[None]:
    """``values`` in the environment for a block (``force=False``: where the user has not set them)."""
    keep = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if force or k not in os.environ:
            os.environ[k] = v
    try:
        yield
    finally:
        _restore_env(keep)


def _restore_env(keep: dict[str, Optional[str]]) -> None:
    """Each variable of ``keep`` back to its value there (``None``: unset)."""
    for k, old in keep.items():
        if old is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = old


def _seed_store(_client: Any, path: str) -> None:
    """Start a new local MLflow store as a copy of an empty one already migrated by this mlflow version.

    MLflow builds a new SQLite store by running its ~100 schema migrations, seconds of work per sweep folder
    (10 s on a busy 2-core machine, 40% of the bundled sweep); the migrated empty store is made once per mlflow
    version in the user's cache (``$XDG_CACHE_HOME/composer-sched``) and copied. Any failure: MLflow builds it.
    Run in the writer process (``_client``: its client, unused: the store does not exist yet).
    """
    if os.path.exists(path):
        return
    import shutil
    import tempfile

    import mlflow

    cache = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'composer-sched')
    template = os.path.join(cache, f'mlflow-{mlflow.__version__}-empty.db')
    try:
        if not os.path.isfile(template):
            os.makedirs(cache, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                db = os.path.join(tmp, 'empty.db')
                store = SqlAlchemyStore(f'sqlite:///{db}', os.path.join(tmp, 'artifacts'))
                store.engine.dispose()
                os.replace(db, template)  # atomic: a concurrent sweep sees a whole template or none
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        shutil.copyfile(template, f'{path}.tmp')
        os.replace(f'{path}.tmp', path)
    except Exception:  # noqa: BLE001 - a read-only home, a full disk: MLflow creates the store itself
        with contextlib.suppress(OSError):
            os.remove(f'{path}.tmp')


def _fsync(path: str) -> None:
    """Make what was written to ``path`` durable (no error if it is gone)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _store_engine(client: Any) -> Any:
    """The SQLAlchemy engine of ``client``'s store when it is a local SQLite file (MLflow's ``SqlAlchemyStore``),
    else ``None``."""
    store = getattr(getattr(client, '_tracking_client', None), 'store', None)
    engine = getattr(store, 'engine', None)
    if engine is None or getattr(engine.dialect, 'name', '') != 'sqlite' or not engine.url.database:
        return None
    return engine


def _journal(client: Any, wal: bool) -> None:
    """Writer side, as a sweep opens its own local store: ``wal`` (every run on this machine) commits into a WAL
    journal without an fsync each (``synchronous=NORMAL``), else MLflow's rollback journal, fsynced at every commit.

    Each MLflow call is a transaction or more (~50 per sweep of 8 short runs), and a rollback journal costs ~4
    fsyncs and two copies of each page per commit: disk traffic the training's core pays for too. A WAL commit is
    an append; what it risks is only the last commits at a power loss (never a corrupt store), and
    :func:`_settle` makes them durable before the driver drops its own copy. Not for runs on other machines: a WAL
    store cannot be shared over a network file system."""
    engine = _store_engine(client)
    if engine is None:
        return
    if getattr(engine, '_composer_sched_wal', None) is None:  # MLflow keeps one store (and engine) per URI
        from sqlalchemy import event

        def pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            try:
                if engine._composer_sched_wal:
                    cur.execute('PRAGMA journal_mode=WAL')
                    cur.execute('PRAGMA synchronous=NORMAL')
                else:
                    cur.execute('PRAGMA journal_mode=DELETE')
            except Exception:  # noqa: BLE001 - another process holds the store: its journal stays as it is
                pass
            finally:
                cur.close()

        event.listen(engine, 'connect', pragmas)
    engine._composer_sched_wal = wal
    engine.dispose()  # connections opened before (MLflow's schema check) start again with the journal asked


def _settle(client: Any) -> None:
    """Writer side, at the sweep's end, before the driver deletes the copies it kept of what MLflow was sent: a
    local store's WAL written back into the store file and synced, the store left with a rollback journal (what
    any MLflow opens, from any machine); if another process holds it, the WAL file is synced instead."""
    engine = _store_engine(client)
    if engine is None or not getattr(engine, '_composer_sched_wal', False):
        return
    import sqlite3

    path = engine.url.database
    engine._composer_sched_wal = False  # a connection opened after this keeps the rollback journal
    engine.dispose()
    try:
        conn = sqlite3.connect(path, timeout=2.0)
        try:
            done = conn.execute('PRAGMA journal_mode=DELETE').fetchone()[0] == 'delete'
        finally:
            conn.close()
    except sqlite3.Error:
        done = False
    if not done:
        for name in (f'{path}-wal', path):
            _fsync(name)


def _set_status(client: Any, run_ids: Sequence[str], status: str) -> None:
    """``client.update_run(id, status=status)`` for each of ``run_ids`` (active runs), in one ``UPDATE`` for a
    local SQLite store (MLflow's path reads each run first: ~10 ms of CPU each)."""
    engine = _store_engine(client)
    try:
        from mlflow.entities import LifecycleStage, RunStatus
        from mlflow.store.tracking.dbmodels.models import SqlRun

        store = client._tracking_client.store
        session_of = store.ManagedSessionMaker
        status = RunStatus.to_string(RunStatus.from_string(status))
    except (ImportError, AttributeError):
        engine = None
    if engine is None:
        for mid in run_ids:
            client.update_run(mid, status=status)
        return
    with session_of(read_only=False) as session:
        session.query(SqlRun).filter(SqlRun.run_uuid.in_(list(run_ids)),
                                     SqlRun.lifecycle_stage == LifecycleStage.ACTIVE) \
            .update({SqlRun.status: status}, synchronize_session=False)


def _log_and_end(client: Any, run_id: str, status: str, **what: Any) -> None:
    """:func:`_log_batches` then ``set_terminated``: a finished run's last words, in one call to the writer."""
    _log_batches(client, run_id, **what)
    client.set_terminated(run_id, status)


def _sqlite_metrics(client: Any, run_id: str, metrics: Sequence) -> bool:
    """Write ``metrics`` (``(key, value, timestamp_ms, step)``) of a run in a local SQLite store as MLflow's own
    ``log_batch`` would: the same validation, rows, duplicates ignored and ``latest_metrics`` kept, through MLflow's
    own table and store functions, but in one ``INSERT`` instead of one ORM object per point (MLflow's path
    costs ~0.3 ms of CPU per point; a sweep logs thousands). Returns ``False``, having written nothing, for any
    other store, or when this MLflow lacks what the path uses (then ``log_batch`` does it)."""
    try:
        import sqlalchemy
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        from mlflow.utils.validation import _validate_metric

        store = client._tracking_client.store
        if type(store) is not SqlAlchemyStore or store.engine.dialect.name != 'sqlite':
            return False
        session_of, run_of, active = store.ManagedSessionMaker, store._get_run, store._check_run_is_active
        keep_latest, sanitize = store._update_latest_metrics_if_necessary, store.sanitize_metric_value
    except (ImportError, AttributeError):
        return False
    table = SqlMetric.__table__
    insert = sqlalchemy.insert(table).prefix_with('OR IGNORE').compile(dialect=store.engine.dialect,
                                                                        column_keys=list(table.c.keys()))
    fields = ('run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan')
    in_order = operator.itemgetter(*(fields.index(k) for k in insert.positiontup or ()))
    rows: list[tuple] = []
    latest: dict[str, tuple] = {}
    for i, (k, v, ts, st) in enumerate(metrics):
        key, value, ts, st = str(k), float(v), int(ts), int(st)
        if key not in latest or ts < 0:
            # MLflow's check of each point, made once per key: a float value and an int step always pass, so only
            # the name (the same for every point of a key) and a negative timestamp can fail, at the same index
            _validate_metric(key, value, ts, st, path=f'metrics[{i}]')
        is_nan, value = sanitize(value)
        row = (run_id, key, value, ts, st, is_nan)
        rows.append(in_order(row))
        old = latest.get(key)  # MLflow's rule for the latest value: the largest (step, timestamp, value)
        if old is None or (st, ts, value) > (old[4], old[3], old[2]):
            latest[key] = row
    with session_of(read_only=False) as session:
        active(run_of(run_uuid=run_id, session=session))
        if rows:  # MLflow's table's INSERT, its rows straight to SQLite: SQLAlchemy's work per row costs more
            session.connection().exec_driver_sql(str(insert), rows)
            keep_latest([SqlMetric(**dict(zip(fields, r))) for r in latest.values()], session)
    return True


def _log_batches(client: Any, run_id: str, metrics: Sequence = (), params: Sequence = (), tags: Sequence = ()) -> None:
    """``client.log_batch`` within MLflow's limits per request (1000 entities, at most 100 params and 100 tags);
    ``metrics`` as ``(key, value, timestamp_ms, step)``, ``params`` and ``tags`` as ``(key, value)`` (plain tuples:
    they cross to the writer process, and the driver needs no MLflow entity). A local SQLite store takes the
    metrics in one statement (:func:`_sqlite_metrics`)."""
    from mlflow.entities import Metric, Param, RunTag

    if metrics and _sqlite_metrics(client, run_id, metrics):
        metrics = ()
    m_all = [Metric(str(k), float(v), int(ts), int(st)) for k, v, ts, st in metrics]
    p_all = [Param(str(k)[:250], str(v)[:6000]) for k, v in params]
    t_all = [RunTag(str(k), str(v)) for k, v in tags]
    while m_all or p_all or t_all:
        p, p_all = p_all[:100], p_all[100:]
        t, t_all = t_all[:100], t_all[100:]
        room = 1000 - len(p) - len(t)
        m, m_all = m_all[:room], m_all[room:]
        client.log_batch(run_id, metrics=m, params=p, tags=t)


def _plain(value: Any) -> Any:
    """An MLflow entity as plain attributes (``types.SimpleNamespace``), so the driver unpickles it without
    importing mlflow: a run's ``info`` (``run_id``, ``status``, ``lifecycle_stage``) and ``data`` (``metrics``,
    ``params``, ``tags`` dicts), an experiment's ``experiment_id`` and ``lifecycle_stage``, a metric's ``key``,
    ``value``, ``timestamp`` and ``step``; lists item by item; anything else as it is.

    Example:
        >>> _plain([1, 'a', None])
        [1, 'a', None]
    """
    from types import SimpleNamespace as NS

    if isinstance(value, list):
        return [_plain(v) for v in value]
    kind = type(value).__name__
    if kind == 'Run':
        info, data = value.info, value.data
        return NS(info=NS(run_id=info.run_id, status=info.status, lifecycle_stage=info.lifecycle_stage),
                  data=NS(metrics=dict(data.metrics), params=dict(data.params), tags=dict(data.tags)))
    if kind == 'Experiment':
        return NS(experiment_id=value.experiment_id, lifecycle_stage=value.lifecycle_stage)
    if kind == 'Metric':
        return NS(key=value.key, value=value.value, timestamp=value.timestamp, step=value.step)
    return value


class _RemoteError(Exception):
    """An MLflow call that failed in the writer process: its message, and MLflow's ``error_code``."""

    def __init__(self, message: str, error_code: str = ''):
        super().__init__(message)
        self.error_code = error_code


def _serve(conn: Any) -> None:
    """The writer process: makes each call the driver sends on ``conn`` and answers ``(True, value)`` or
    ``(False, (exception type name, message, error_code))``, until ``None`` or the driver is gone.

    A call is ``(uri, what, args, kwargs, env, cwd)``: ``what`` names a method of this process's
    ``MlflowClient(uri)`` (one per URI, made at its first call), or is a function (pickled by reference) called
    with that client first (``None`` for :func:`_seed_store`, which runs before the store exists); ``env`` and
    ``cwd`` are the driver's now (a sweep in a notebook may have changed them since the last)."""
    import logging

    try:  # first: the import (seconds) overlaps the first run's training
        import mlflow  # noqa: F401
        for name in ('mlflow', 'alembic'):  # after the import, which sets mlflow's level; schema creation talks
            logging.getLogger(name).setLevel(logging.WARNING)
    except Exception:  # noqa: BLE001 - the first call reports it
        pass
    clients: dict[str, Any] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        uri, what, args, kwargs, env, cwd = msg
        if env != dict(os.environ):
            os.environ.clear()
            os.environ.update(env)
        with contextlib.suppress(OSError):
            if cwd != os.getcwd():
                os.chdir(cwd)
        try:
            if what is _forget:
                value = _forget(clients.pop(uri, None))
            else:
                client = None
                if what is not _seed_store:
                    if uri not in clients:
                        from mlflow import MlflowClient
                        clients[uri] = MlflowClient(uri)
                    client = clients[uri]
                value = what(client, *args, **kwargs) if callable(what) else getattr(client, what)(*args, **kwargs)
            answer = (True, _plain(value))
        except Exception as e:  # noqa: BLE001 - the driver raises it
            answer = (False, (type(e).__name__, str(e), str(getattr(e, 'error_code', '') or '')))
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return


def _forget(client: Any) -> None:
    """Close a client's store (its SQLite connections), in the writer process once a sweep is done with it."""
    engine = getattr(getattr(getattr(client, '_tracking_client', None), 'store', None), 'engine', None)
    if engine is not None:
        engine.dispose()


def _serve_fd(fd: int) -> None:
    """:func:`_serve` on the socket inherited as ``fd`` (the writer process's entry point)."""
    from multiprocessing.connection import Connection

    _serve(Connection(fd))
    # Every call was answered (so MLflow has it) and every store closed: exit without the interpreter's shutdown,
    # where mlflow's exit handlers cost a second that the driver's exit would wait for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Process:
    """The writer process and its end of the socket; one per driver process, kept for the next sweep (its mlflow
    import is seconds of CPU), ended at exit or when the driver dies (its socket closes)."""

    lock = threading.Lock()  # one call at a time
    current: Optional['_Process'] = None

    def __init__(self) -> None:
        import atexit
        import json
        import socket
        import subprocess
        from multiprocessing.connection import Connection

        mine, theirs = socket.socketpair()
        code = ('import sys, json; sys.path[:0] = json.loads(sys.argv[1]); '
                'from composer_sched.sweep.tracking import _serve_fd; _serve_fd(int(sys.argv[2]))')
        # this process's sys.path first: composer_sched is found where this one was (a checkout, a -m run)
        self.proc = subprocess.Popen([sys.executable, '-c', code, json.dumps(sys.path), str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # the terminal's Ctrl-C stops the driver, which ends it
        theirs.close()
        self.conn = Connection(mine.detach())
        atexit.register(self.end)

    @classmethod
    def get(cls) -> '_Process':
        """The running writer process (started if there is none, or it died)."""
        with cls.lock:
            if cls.current is None or cls.current.proc.poll() is not None:
                cls.current = cls()
            return cls.current

    def end(self, wait: float = 5.0) -> None:
        import subprocess

        if self.proc.poll() is None and self.lock.acquire(timeout=wait):
            try:
                with contextlib.suppress(OSError, ValueError):
                    self.conn.send(None)
            finally:
                self.lock.release()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.conn.close()


def start_writer(log: Optional[str | Sequence[str]] = (), config: Optional[dict] = None) -> bool:
    """Start the MLflow writer process now, when ``log`` (``--log``'s text or trackers) or a recipe's ``config``
    (its ``loggers.mlflow``) asks for MLflow: its mlflow import (seconds of CPU) then runs on the other core while
    this process loads torch, Composer and the recipe, instead of before the first call. Returns whether it asked;
    a writer already running is kept. Never raises: a bad ``--log`` is reported by :func:`parse_log` later.

    Example:
        >>> start_writer('wandb')
        False
    """
    try:
        wanted = 'mlflow' in parse_log(log) or ((config or {}).get('loggers') or {}).get('mlflow') is not None
    except (ValueError, AttributeError):
        return False
    if wanted and importlib.util.find_spec('mlflow') is not None:
        with contextlib.suppress(OSError):
            _Process.get()
            return True
    return False


class _Writer:
    """A sweep's MLflow writer: every MLflow client call of the sweep is made in a Python process of its own
    (:class:`_Process`), so the store's work (about 0.3 ms of CPU per metric point in a local SQLite store,
    thousands of points per sweep), mlflow's import and the trunk plot run on another core, not under the training
    process's GIL. Never a fork of a process with torch threads, nor multiprocessing's 'spawn' (which imports the
    user's main script again).

    ``writer.get_run(...)`` and any other ``MlflowClient`` method: the call made there on a client of ``uri``,
    this thread waiting (without the GIL) for its answer; entities come back as plain attributes (:func:`_plain`),
    failures as a :class:`_RemoteError` of the same type name. Calls are synchronous: when one returns, MLflow has
    the data. Thread-safe (the driver's writer thread and the runs' sending threads share it)."""

    def __init__(self, uri: str):
        self.uri = uri
        self._process = _Process.get()

    def call(self, what: Any, *args: Any, **kwargs: Any) -> Any:
        with self._process.lock:
            return self._ask(what, args, kwargs)

    def _ask(self, what: Any, args: Any, kwargs: Any) -> Any:
        p = self._process
        try:
            p.conn.send((self.uri, what, args, kwargs, dict(os.environ), os.getcwd()))
            ok, value = p.conn.recv()
        except (EOFError, OSError) as e:
            raise ConnectionError(f'the MLflow writer process ended (exit code {p.proc.poll()})') from e
        if ok:
            return value
        name, message, code = value
        raise type(name, (_RemoteError,), {})(message, code)

    def __reduce__(self) -> Any:
        # This process's own: handed to a run launched in other processes (--procs-per-run), it arrives as None
        # and the run's rank 0 opens a client of its own.
        return type(None), ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):
            raise AttributeError(name)
        return functools.partial(self.call, name)

    def close(self) -> None:
        """The sweep is done with its store: the writer process closes it (and stays for the next sweep); not
        when a call is still under way (a sweep stopped by Ctrl-C does not wait for it)."""
        lock = self._process.lock
        if lock.acquire(timeout=1.0):
            try:
                with contextlib.suppress(Exception):
                    self._ask(_forget, (), {})
            finally:
                lock.release()


class _Mlflow:
    """The driver's side of MLflow: parent and children, the id map in ``results.sqlite``, what the driver logs."""

    kind = 'mlflow'

    def __init__(self, cfg: dict, job: Any, store: Any, echo: Callable[[str], None]):
        self.cfg, self.job, self.store, self.echo = cfg, job, store, echo
        out = os.path.abspath(job.out_dir)
        self.local = not (cfg.get('tracking_uri') or os.environ.get('MLFLOW_TRACKING_URI'))
        self.uri = str(cfg.get('tracking_uri') or os.environ.get('MLFLOW_TRACKING_URI')
                       or f'sqlite:///{os.path.join(out, "mlflow.db")}')
        self.experiment = str(cfg.get('experiment_name') or os.environ.get('MLFLOW_EXPERIMENT_NAME') or job.loaded.name)
        self.artifacts = f'file://{os.path.join(out, "mlartifacts")}' if self.local else None
        self.location = f'{self.uri}#{self.experiment}'
        self.extra_tags = {str(k): str(v) for k, v in (cfg.get('tags') or {}).items()}
        self.ids: dict[str, str] = {}
        self.parent = ''
        self.experiment_id = ''
        self._scheduled: list[str] = []
        self._deferred: Optional[list] = None  # the runs of a new local store, set up on the writer thread
        self.ready = threading.Event()  # set once the experiment, parent and children exist (or failed to)
        self.logged: set[str] = set()  # run ids whose row this sweep logged
        self.sent: list[str] = []  # run ids whose pending payload this sweep sent
        self._made_tags: dict[str, dict] = {}  # the tags of each child this sweep made
        self.curves: dict[str, list] = {}  # a trunk's points, when its whole curve came with its row

    # ------------------------------------------------------------------------------------------ before training
    def open(self, runs: Sequence[Any]) -> None:
        """Reach the tracker, find or create the experiment, the parent and a child per run in ``runs``.

        A new local store (the sweep folder's first ``--log mlflow``) cannot be unreachable: it is set up by the
        writer thread while the first run trains (:meth:`started`); any other store is checked here, before
        training."""
        import logging

        for name in ('mlflow', 'alembic'):  # the store's schema creation talks at INFO level
            logging.getLogger(name).setLevel(logging.WARNING)
        # every MLflow call goes through the writer process, started now: its mlflow import overlaps what follows
        self.client = _Writer(self.uri)
        if self.local:
            path = self.uri[len('sqlite:///'):]
            if not os.path.exists(path):
                self._deferred = list(runs)
                return
        # MLflow's REST client retries for minutes by default: the check before training answers in seconds.
        with _http_env({'MLFLOW_HTTP_REQUEST_MAX_RETRIES': '0', 'MLFLOW_HTTP_REQUEST_TIMEOUT': '15'}, force=True):
            self._open(runs)

    def _open(self, runs: Sequence[Any]) -> None:
        try:
            if self._deferred is not None:
                self.client.call(_seed_store, self.uri[len('sqlite:///'):])
            if self.local:
                self.client.call(_journal, self.job.backend == 'local')
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is not None and exp.lifecycle_stage != 'active':
                self.client.restore_experiment(exp.experiment_id)
            self.experiment_id = exp.experiment_id if exp is not None else self.client.create_experiment(
                self.experiment, artifact_location=self.artifacts,
                # the UI opens a new experiment as model training (runs, charts), not GenAI traces
                tags={'mlflow.experimentKind': 'custom_model_development'})
            self.ids.update(self.store.tracked_ids(self.kind, self.location))
            reused = self._reuse(self.ids.get(self._sweep_key()))
            self.parent = reused or self._new_parent()
            if reused:  # a new run starts RUNNING; a reused parent had ended
                self.client.update_run(self.parent, status='RUNNING')
            made = {}
            for spec in runs:
                if not self._reuse(self.ids.get(spec.run_id)):
                    made[spec.run_id] = self._new_child(spec.run_id, spec.ratio, spec.seed, self._spec_tags(spec),
                                                        remember=False)
            self.store.set_tracked_ids(made, self.kind, self.location)  # one transaction, not one per run
            self.ids.update(made)  # in place: an in-process run reads its child's id from this dict
            self._scheduled = list(made.values())
        finally:
            self.ready.set()

    def started(self) -> list[tuple[str, Callable[[], None]]]:
        """What the writer thread does while the first runs train: the new children's status, the parent's
        params and its trunk plot."""
        first = [('setting up the local store', functools.partial(self._open, self._deferred))] \
            if self._deferred is not None else []
        return first + [('marking the runs scheduled', self._mark_scheduled),
                        ('logging the recipe', self._parent_start)]

    def _mark_scheduled(self) -> None:
        if self._scheduled:
            self.client.call(_set_status, self._scheduled, 'SCHEDULED')

    def _parent_start(self) -> None:
        job, pid = self.job, self.parent
        have = self.client.get_run(pid).data
        skip = ('seed', 'run_name', 'progress_bar', 'loggers')
        cfg = {k: v for k, v in job.loaded.config.items() if k not in skip}
        params = [(k[:250], v) for k, v in _flatten(cfg).items() if k and k[:250] not in have.params]
        self.client.call(_log_batches, pid, params=params)
        here = job.config_dir
        os.makedirs(here, exist_ok=True)
        try:  # drawn in the writer process too (matplotlib's seconds of CPU, off the training's core)
            path = self.client.call(_draw_trunks, *_trunk_lines(job.plan, job.loaded),
                                    os.path.join(here, 'schedules.png'))
        except Exception:  # noqa: BLE001 - a picture is not worth failing the log over
            return
        self.client.log_artifact(pid, path)

    def _sweep_key(self) -> str:
        return f'sweep:{self.job.config_hash}'

    def _reuse(self, mlflow_id: Optional[str]) -> Optional[str]:
        """``mlflow_id`` if that run still exists and is not deleted (a user may delete runs in the UI)."""
        if not mlflow_id:
            return None
        try:
            run = self.client.get_run(mlflow_id)
        except Exception as e:  # noqa: BLE001 - mlflow raises MlflowException for a missing run
            if 'RESOURCE_DOES_NOT_EXIST' in str(getattr(e, 'error_code', '')) or 'not found' in str(e).lower():
                return None
            raise
        return mlflow_id if run.info.lifecycle_stage == 'active' else None

    def _remember(self, key: str, mlflow_id: str) -> None:
        self.store.set_tracked_id(key, self.kind, self.location, mlflow_id)
        self.ids[key] = mlflow_id

    def _new_parent(self) -> str:
        job = self.job
        tags = {'composer_sched.kind': 'sweep', 'composer_sched.fingerprint': job.config_hash,
                'composer_sched.recipe': job.loaded.name, **self.extra_tags}
        run = self.client.create_run(self.experiment_id, run_name=f'{job.loaded.name}-{job.config_hash}',
                                     tags=tags)
        self._remember(self._sweep_key(), run.info.run_id)
        return run.info.run_id

    def _spec_tags(self, spec: Any) -> dict[str, str]:
        sharing = self.job.plan
        is_trunk = any(s.trunk_id == spec.run_id for s in sharing.runs)
        return {'trunk': spec.trunk_id or ('self' if is_trunk else 'none'),
                'branch_batch': str(spec.branch_batch if spec.trunk_id else 0),
                'budget_batches': str(self.job.plan.budgets.get(spec.ratio, ''))}

    def _new_child(self, run_id: str, ratio: float, seed: int, tags: dict[str, str], remember: bool = True) -> str:
        all_tags = {'mlflow.parentRunId': self.parent, 'composer_sched.kind': 'run', 'composer_sched.run_id': run_id,
                    'ratio': f'{ratio:g}', 'seed': str(seed), 'status': 'scheduled', **tags, **self.extra_tags}
        run = self.client.create_run(self.experiment_id, run_name=f'{_ratio_key(ratio)}-s{seed}', tags=all_tags)
        self._made_tags[run.info.run_id] = all_tags
        if remember:
            self._remember(run_id, run.info.run_id)
            self.client.update_run(run.info.run_id, status='SCHEDULED')
        return run.info.run_id

    def worker(self, live: bool = False) -> dict:
        """What a worker needs to log a run into its child (plain types: it is pickled to workers and ranks).

        ``live``: for runs in this process, which read their child's id from the live map when they send (the
        writer thread may still be creating it) and send through the writer process (``client``: not pickled);
        otherwise this waits until every child exists."""
        if not live:
            self.ready.wait()
        keep = {k: v for k, v in self.cfg.items() if k not in _RESERVED}
        keep.setdefault('log_system_metrics', False)
        env = {k: os.environ.get(k, v) for k, v in _HTTP_ENV.items()}
        out = {'uri': self.uri, 'runs': self.ids if live else dict(self.ids), 'env': env,
               'budgets': {s.run_id: int(self.job.plan.budgets[s.ratio]) for s in self.job.plan.runs},
               'kwargs': keep}
        if live:
            out['client'] = self.client
        return out

    # ------------------------------------------------------------------------------------------ as runs finish
    def payload(self, row: dict) -> Optional[tuple[str, str, Any]]:
        """What ``row``'s run logged that MLflow has not been sent yet, to keep in ``results.sqlite`` with the row."""
        p = (row.get('tracking') or {}).get(self.kind)
        return (self.kind, self.location, p) if p else None

    def recorded(self, spec: Any, row: dict) -> None:
        """The driver's word on a finished run (on the writer thread): the run's last metrics, status, attempts,
        final metrics, cost, a branch's trunk prefix; then terminate it."""
        mid = self.ids.get(spec.run_id)
        if not mid:
            return
        self._log_row(mid, row, attempts=self._attempts(spec.run_id), payload=(row.get('tracking') or {}).get('mlflow'))

    def _attempts(self, run_id: str) -> int:
        row = next((r for r in self.store.rows(self.job.config_hash) if r['run_id'] == run_id), None)
        return int(row['attempts']) if row else 1

    def _log_row(self, mid: str, row: dict, attempts: Optional[int] = None, payload: Optional[dict] = None) -> None:
        import time
        from types import SimpleNamespace

        now = int(time.time() * 1000)
        step = int(row.get('batches') or 0)
        values = {f'final/{k}': v for k, v in (row.get('metrics') or {}).items()}
        for k in ('batches', 'wall_s', 'equiv_wall_s', 'device_s'):
            if isinstance(row.get(k), (int, float)):
                values[f'cost/{k}'] = row[k]
        values = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        if mid in self._scheduled and row['run_id'] not in self.logged and not (payload or {}).get('live'):
            # made by this sweep, never sent to since: it has its creation tags only (a round trip saved)
            have = SimpleNamespace(metrics={}, params={}, tags=dict(self._made_tags[mid]))
        else:
            have = self.client.get_run(mid).data
        tags = {str(k): str(v) for k, v in ((payload or {}).get('tags') or {}).items()}
        tags.update({'status': row['status'], 'world_size': str(row.get('world_size') or 1)})
        if attempts is not None:
            tags['attempts'] = str(attempts)
        if row.get('error'):
            tags['error'] = str(row['error'])[:4000]
        metrics = [(k, v, now, step) for k, v in values.items() if have.metrics.get(k) != v]
        if row.get('branched_from'):
            tags['trunk'] = str(row['branched_from'])
            tags['branch_batch'] = str(row.get('branch_batch'))
            if self.ids.get(row['branched_from']):
                tags['trunk_mlflow_run'] = self.ids[row['branched_from']]
            if row['status'] == 'done':
                prefix = self._trunk_prefix(row)
                metrics += prefix
                if prefix:
                    tags['curve_before_branch'] = 'from the trunk'
        elif row['status'] == 'done' and have.tags.get('trunk') != 'self':
            # planned as a branch, but its trunk's checkpoint was missing: it trained from scratch
            tags.update(trunk='none', branch_batch='0')
        params: list = []
        if payload:
            points = payload.get('metrics') or []
            metrics += [tuple(p) for p in points]
            given = dict(payload.get('params') or {})
            if 'mlflow_run_id' in given:  # Composer's after_load logs them; the run may not have known them yet
                given.update(mlflow_run_id=mid, mlflow_experiment_id=self.experiment_id)
            params = [(str(k)[:250], str(v)) for k, v in given.items() if str(k)[:250] not in have.params]
            if not payload.get('live') and any(s.trunk_id == row['run_id'] for s in self.job.plan.runs):
                # a trunk whose whole curve passed through here: its branches copy their prefix from this
                self.curves[row['run_id']] = [p for p in points if str(p[0]).startswith(_FRAC_KEYS)]
        tag_list = [(k, v) for k, v in tags.items() if have.tags.get(k) != v]
        self.client.call(_log_and_end, mid, 'FINISHED' if row['status'] == 'done' else 'FAILED', metrics=metrics,
                         params=params, tags=tag_list)
        self.logged.add(row['run_id'])
        if payload:
            self.sent.append(row['run_id'])  # its pending payload is dropped at the end, in one transaction

    def _trunk_prefix(self, row: dict) -> list:
        """The trunk's loss, metric and LR points before the branch batch, for a branch's child (so its curves are
        the whole run), with their ``frac/`` copies against the branch's own budget; the trunk's timestamps, so a
        copy made twice is one copy (MLflow drops identical points)."""
        trunk, cut = row.get('branched_from'), int(row.get('branch_batch') or 0)
        tmid = self.ids.get(trunk or '')
        if not trunk or cut <= 0 or not tmid:
            return []
        points = self.curves.get(trunk)
        if points is None:  # logged by an earlier sweep, or live while it trained: read it back
            keys = [k for k in self.client.get_run(tmid).data.metrics if k.startswith(_FRAC_KEYS)]
            points = [[m.key, m.value, m.timestamp, m.step] for k in keys
                      for m in self.client.get_metric_history(tmid, k)]
        budget = int(self.job.plan.budgets.get(row['ratio']) or 0)
        out = []
        for k, v, ts, st in points:
            if int(st) < cut and str(k).startswith(_FRAC_KEYS):  # the curves (not Composer's time/ counters)
                out.append((str(k), float(v), int(ts), int(st)))
                if budget:
                    out.append((f'frac/{k}', float(v), int(ts), int(round(1000 * int(st) / budget))))
        return out

    # ------------------------------------------------------------------------------------------ after the sweep
    def finish(self, outcome: Any, files: dict[str, str]) -> None:
        """Children for rows not logged yet (predicted rows, rows of sweeps that ran without ``--log``), then the
        parent's params, tags, metrics and artifacts; the parent ends FINISHED, or FAILED when a run failed."""
        self._children_of_rows(outcome.rows)
        self._parent(outcome, files)
        if self.local:  # what MLflow has is on disk before the copies kept in results.sqlite go
            self.client.call(_settle)
        self.store.drop_pending(self.sent, self.kind, self.location)

    def _children_of_rows(self, rows: list[dict]) -> None:
        pending = self.store.pending(self.kind, self.location)
        for row in rows:
            rid = row['run_id']
            if rid in self.logged:  # this sweep logged it (its pending payload is dropped next)
                continue
            mid = self._reuse(self.ids.get(rid))
            if row.get('predicted'):
                if not mid:
                    mid = self._new_child(rid, row['ratio'], row['seed'], {'predicted': 'true'})
                p = row.get('prediction') or {}
                values = {f'predicted/{k}': p.get(k) for k in ('loss', 'low', 'high', 'metric_low', 'metric_high')}
                for k, band in (p.get('metrics') or {}).items():
                    if isinstance(band, dict):
                        values.update({f'predicted/{k}_low': band.get('low'), f'predicted/{k}_high': band.get('high')})
                import time
                now = int(time.time() * 1000)
                have = self.client.get_run(mid).data.metrics
                new = [(k, float(v), now, 0) for k, v in values.items()
                       if isinstance(v, (int, float)) and math.isfinite(v) and have.get(k) != float(v)]
                if new:
                    self.client.call(_log_batches, mid, metrics=new)
                self._log_row(mid, row)
            elif not mid:
                # Finished before this folder logged to this tracker: the final numbers, without curves (or with
                # what it logged, kept in results.sqlite when its child could not be made then).
                mid = self._new_child(rid, row['ratio'], row['seed'], {} if rid in pending else {'backfilled': 'true'})
                self._log_row(mid, row, attempts=row.get('attempts'), payload=pending.get(rid))
            elif rid in pending:
                # recorded, but its last metrics never reached MLflow (the tracker was down, or the sweep was killed
                # first): they were kept in results.sqlite
                self._log_row(mid, row, attempts=row.get('attempts'), payload=pending[rid])
            else:
                run = self.client.get_run(mid)
                if run.data.tags.get('status') != row['status'] or run.info.status in ('RUNNING', 'SCHEDULED'):
                    # recorded while the tracker was down, or by a sweep killed before it told the tracker
                    self._log_row(mid, row, attempts=row.get('attempts'))

    def _parent(self, outcome: Any, files: dict[str, str]) -> None:
        import time

        job, pid = self.job, self.parent
        have = self.client.get_run(pid).data
        rows = outcome.rows
        tags = {'fingerprint': job.config_hash, 'recipe': job.loaded.name, 'backend': job.backend,
                'workers': str(job.workers), 'procs_per_run': str(int(job.resources['processes'])),
                'ratios': ','.join(f'{r:g}' for r in sorted({r['ratio'] for r in rows})),
                'seeds': ','.join(str(s) for s in sorted({r['seed'] for r in rows})),
                'runs': str(len(rows)), 'failed': str(len(outcome.failed)),
                'predicted_runs': str(sum(1 for r in rows if r.get('predicted')))}
        values: dict[str, float] = {}
        rep = outcome.report
        if rep is not None:
            tags.update({'metric': rep.metric, 'goal': rep.goal, 'tolerance': f'{rep.tolerance:g}',
                         'recommended_ratio': f'{rep.recommended_ratio:g}', 'best_ratio': f'{rep.best_ratio:g}',
                         'frontier': ','.join(f'{r:g}' for r in rep.frontier)})
            values['recommended_ratio'] = rep.recommended_ratio
            values['best_ratio'] = rep.best_ratio
            for s in rep.summaries:
                pre = _ratio_key(s.ratio) + ('_predicted' if s.predicted else '')
                values[f'{pre}/cost_batches'] = s.batches
                if not s.predicted:
                    values[f'{pre}/device_s'] = s.device_s
                for m, v in s.mean.items():
                    values[f'{pre}/{m}_mean'] = v
                    values[f'{pre}/{m}_std'] = s.std.get(m, math.nan)
            for e in rep.errors():
                for k in ('error', 'error_in_std', 'loss_error'):
                    if e.get(k) is not None:
                        values[f'shadow/{_ratio_key(e["ratio"])}/{k}'] = e[k]
        now = int(time.time() * 1000)
        metrics = [(k, float(v), now, 0) for k, v in values.items()
                   if isinstance(v, (int, float)) and math.isfinite(v) and have.metrics.get(k) != float(v)]
        tag_list = [(k, v) for k, v in tags.items() if have.tags.get(k) != v]
        for path in files.values():
            if path and os.path.isfile(path):
                self.client.log_artifact(pid, path)
        self.client.call(_log_and_end, pid, 'FAILED' if outcome.failed else 'FINISHED', metrics=metrics, tags=tag_list)

    def short(self) -> str:
        return f'parent run {self.parent}'

    def close(self) -> None:
        """End the writer process (the sweep's calls are done, or abandoned: what they missed is in
        ``results.sqlite``)."""
        client = getattr(self, 'client', None)
        if client is not None:
            client.close()

    def describe(self) -> str:
        where = f'{self.uri} (see it: mlflow ui --backend-store-uri {self.uri})' if self.local else self.uri
        parent = f'parent run {self.parent}' if self.parent else 'a new parent run'
        return f'MLflow: experiment {self.experiment!r}, {parent} at {where}'


class _Wandb:
    """The driver's side of W&B: checks it can log; the runs log themselves through Composer's ``WandBLogger``."""

    kind = 'wandb'

    def __init__(self, cfg: dict, job: Any, store: Any, echo: Callable[[str], None]):
        self.cfg, self.job = cfg, job
        self.group = f'{job.loaded.name}-{job.config_hash}'
        self.project = str(cfg.get('project') or os.environ.get('WANDB_PROJECT') or 'composer-sched')
        self.dir = os.path.abspath(job.out_dir)

    def open(self, runs: Sequence[Any]) -> None:
        import wandb

        mode = os.environ.get('WANDB_MODE', '')
        if mode not in ('offline', 'disabled', 'dryrun') and not (os.environ.get('WANDB_API_KEY') or
                                                                   wandb.Api().api_key):
            raise ValueError('--log wandb needs a W&B login (wandb login, or WANDB_API_KEY), or WANDB_MODE=offline '
                             'to log without an account.')
        self.tags = {s.run_id: _wandb_tags(s, self.job.plan) for s in runs}

    def worker(self, live: bool = False) -> dict:
        return {'project': self.project, 'group': self.group, 'entity': self.cfg.get('entity'), 'dir': self.dir,
                'tags': self.tags, 'fingerprint': self.job.config_hash}

    def started(self) -> list[tuple[str, Callable[[], None]]]:
        return []

    def payload(self, row: dict) -> None:
        return None  # the runs log to W&B themselves (Composer's WandBLogger); wandb keeps its own files

    def recorded(self, spec: Any, row: dict) -> None:
        pass

    #: W&B's client starts its own service and wants the main thread: the summary is logged there, at the end.
    main_thread = True

    def finish(self, outcome: Any, files: dict[str, str]) -> None:
        """The sweep's summary run in the group (the MLflow parent's counterpart), job type ``sweep-summary``:
        a ``ratios`` table (per ratio: seeds, failures, cost, each metric's mean and std, predicted or trained),
        the recommendation in its summary, the recipe in its config, the trade-off and schedule plots as images,
        and the sweep's files (results.csv, report.txt, recipe.yaml, the plots) saved with it. Its id is stable,
        so a rerun resumes it instead of adding one."""
        import wandb

        job, rep = self.job, outcome.report
        here = os.path.dirname(files.get('config_csv') or '')
        paths = {k: v for k, v in files.items() if v and os.path.isfile(v)}
        if here:
            sched = os.path.join(here, 'schedules.png')
            if not os.path.isfile(sched):
                try:
                    plot_trunks(job.plan, job.loaded, sched)
                except Exception:  # noqa: BLE001 - a picture is not worth failing the log over
                    pass
            if os.path.isfile(sched):
                paths['schedules'] = sched
        summaries = list(rep.summaries) if rep is not None else []
        metrics = sorted({m for s in summaries for m in s.mean})
        columns: list[Any] = ['ratio', 'predicted', 'seeds', 'failed', 'cost_batches', 'device_s'] + \
            [f'{m}_{k}' for m in metrics for k in ('mean', 'std')]
        data = [[s.ratio, s.predicted, s.n, s.failed, s.batches, None if s.predicted else s.device_s]
                + [v for m in metrics for v in (s.mean.get(m), s.std.get(m))] for s in summaries]
        skip = ('seed', 'run_name', 'progress_bar', 'loggers')
        config = {'recipe': job.loaded.name, 'fingerprint': job.config_hash, 'backend': job.backend,
                  'ratios': sorted({r['ratio'] for r in outcome.rows}),
                  'seeds': sorted({r['seed'] for r in outcome.rows}),
                  **{f'recipe.{k}': v for k, v in _flatten({k: v for k, v in job.loaded.config.items()
                                                             if k not in skip}).items()}}
        os.environ.setdefault('WANDB_SILENT', 'true')
        run = wandb.init(project=self.project, group=self.group, entity=self.cfg.get('entity'),
                         name=f'{self.group}-summary', id=_wandb_id(job.config_hash, 'sweep-summary'),
                         resume='allow', dir=self.dir, job_type='sweep-summary', tags=['sweep-summary'],
                         config=config, reinit='create_new')
        try:
            log: dict[str, Any] = {'ratios': wandb.Table(columns=columns, data=data)}
            for key, name in (('config_plot', 'tradeoff'), ('schedules', 'schedules')):
                if key in paths:
                    log[name] = wandb.Image(paths[key])
            run.log(log)
            summary: dict[str, Any] = {'runs': len(outcome.rows), 'failed': len(outcome.failed),
                                       'predicted_runs': sum(1 for r in outcome.rows if r.get('predicted'))}
            if rep is not None:
                summary.update({'metric': rep.metric, 'goal': rep.goal, 'tolerance': rep.tolerance,
                                'recommended_ratio': rep.recommended_ratio, 'best_ratio': rep.best_ratio,
                                'frontier': list(rep.frontier), 'report': rep.text()})
            run.summary.update(summary)
            for path in paths.values():
                run.save(path, base_path=os.path.dirname(path), policy='now')
        finally:
            run.finish(exit_code=1 if outcome.failed else 0)

    def short(self) -> str:
        return f'group {self.group!r}'

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return (f'W&B: project {self.project!r}, group {self.group!r}'
                + (' (offline: wandb sync ' + os.path.join(self.dir, 'wandb') + ')'
                   if os.environ.get('WANDB_MODE') == 'offline' else ''))


def _wandb_tags(spec: Any, plan: Any) -> list[str]:
    trunk = any(s.trunk_id == spec.run_id for s in plan.runs)
    return [f'ratio={spec.ratio:g}', f'seed={spec.seed}',
            'branch' if spec.trunk_id else ('trunk' if trunk else 'independent')]


@dataclasses.dataclass
class SweepTracking:
    """The trackers of one sweep (driver side): opened before training, told of every recorded row, finished
    after the outputs are written. Every call after :meth:`open` runs on one writer thread, in order, while the
    runs train (training never waits for the tracker), and reports a failure and carries on: the tracker is a
    view of ``results.sqlite``, never a reason to lose a run; what a run logged that the tracker did not get yet
    is kept in ``results.sqlite`` (:meth:`pending`) and sent by the next sweep in the folder."""
    trackers: list
    echo: Callable[[str], None]
    broken: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        import queue

        self._queue: Any = queue.Queue()
        self._thread: Any = None
        # MLflow's HTTP settings for the whole sweep (the writer thread's calls), where the user has not set them
        self._env = {k: os.environ.get(k) for k in _HTTP_ENV}
        for k, v in _HTTP_ENV.items():
            os.environ.setdefault(k, v)
        for t in self.trackers:
            for what, fn in t.started():
                self._submit(t, what, fn)

    def worker(self, live: bool = False) -> dict:
        """``{tracker: what workers need}``, handed to :func:`~composer_sched.sweep.execute.run_one`; ``live``:
        for runs in this process (they need not wait for the writer thread to create their tracker runs)."""
        out = {t.kind: t.worker(live) for t in self.trackers if t.kind not in self.broken}
        return {k: v for k, v in out.items() if k not in self.broken}

    def _submit(self, t: Any, what: str, fn: Callable[[], None]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name='composer-sched-tracking', daemon=True)
            self._thread.start()
        self._queue.put((t, what, fn))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._safely(*item)
            finally:
                self._queue.task_done()

    def _safely(self, t: Any, what: str, fn: Callable[[], None]) -> None:
        if t.kind in self.broken:
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a tracker down mid-sweep: say so once, keep training
            self.broken[t.kind] = _first_line(e)
            self.echo(f'  {t.kind}: {what} failed ({self.broken[t.kind]}); the sweep goes on, every result is in '
                      f'results.sqlite; rerun the same command to log what is missing.')

    def pending(self, row: dict) -> list[tuple[str, str, Any]]:
        """``(tracker, location, payload)`` of what ``row``'s run logged that its trackers do not have yet, for
        :meth:`~composer_sched.sweep.store.ResultsStore.record` to keep with the row."""
        out = [t.payload(row) for t in self.trackers]
        return [p for p in out if p is not None]

    def recorded(self, spec: Any, row: dict) -> None:
        """``row`` is in ``results.sqlite``: the trackers are told on the writer thread (training goes on)."""
        if row.get('tracking_error'):
            self.echo(f'  tracker: ratio {spec.ratio:g} seed {spec.seed} logged partly: {row["tracking_error"]}')
        for t in self.trackers:
            self._submit(t, f'logging run {spec.run_id}', functools.partial(t.recorded, spec, row))

    def finish(self, outcome: Any, loaded: Any) -> None:
        """The sweep's outputs are written: the trackers log the sweep, and this waits until they have all."""
        files = _parent_files(outcome, loaded)
        for t in self.trackers:
            if not getattr(t, 'main_thread', False):
                self._submit(t, 'logging the sweep', functools.partial(t.finish, outcome, files))
        self._queue.join()
        for t in self.trackers:
            if getattr(t, 'main_thread', False):
                self._safely(t, 'logging the sweep', functools.partial(t.finish, outcome, files))
        for t in self.trackers:
            if t.kind not in self.broken:
                self.echo(f'  logged to {t.kind}: {t.short()}')

    def close(self) -> None:
        """Stop the writer thread once its queue is done (without waiting: a sweep stopped by Ctrl-C leaves
        what was not sent in ``results.sqlite``), and give the environment back."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None
        for t in self.trackers:
            t.close()
        _restore_env(self._env)

    def target(self, target: Any) -> Any:
        """The target the runs train: the recipe's own MLflow logger off (the sweep logs into its children)."""
        if any(t.kind == 'mlflow' for t in self.trackers):
            return dataclasses.replace(target, overrides=tuple(target.overrides) + ('loggers.mlflow=null',))
        return target


def open_tracking(log: Sequence[str], job: Any, store: Any, runs: Sequence[Any], *, writable: bool = True,
                  echo: Callable[[str], None] = print) -> Optional[SweepTracking]:
    """The trackers of a sweep, reached and set up before any training, or ``None`` when it logs nowhere.

    Args:
        log: trackers asked by ``--log`` (:func:`parse_log`); the recipe's ``loggers.mlflow`` adds MLflow with its
            arguments (``tracking_uri``, ``experiment_name``, ``tags``, and any other ``MLFlowLogger`` argument).
        job: the planned sweep (``runner._SweepJob``).
        store: the folder's :class:`~composer_sched.sweep.store.ResultsStore` (the id map).
        runs: the runs about to train (each gets its child now).
        writable: ``False`` (a read-only folder): the id map cannot be kept, so nothing is logged (said once).

    Raises:
        ValueError: a tracker is not installed, cannot be reached, or refuses the experiment: one line.
    """
    cfg_mlflow = (job.loaded.config.get('loggers') or {}).get('mlflow')
    kinds = list(log) + (['mlflow'] if cfg_mlflow is not None and 'mlflow' not in log else [])
    if not kinds:
        return None
    if not writable:
        echo(f'  --log {",".join(kinds)}: the folder is read-only, so nothing is logged (the tracker ids live in '
             'results.sqlite).')
        return None
    trackers = []
    for kind in kinds:
        module = 'mlflow' if kind == 'mlflow' else 'wandb'
        try:  # found, not imported: mlflow is imported by the writer process only (seconds of CPU)
            if importlib.util.find_spec(module) is None:
                raise ImportError(module)
        except (ImportError, ValueError):
            raise ValueError(f"--log {kind} needs {module}: pip install 'composer-sched[{module}]'.") from None
        cls = _Mlflow if kind == 'mlflow' else _Wandb
        t = cls(dict(cfg_mlflow or {}) if kind == 'mlflow' else {}, job, store, echo)
        try:
            t.open(runs)
        except ValueError:
            t.close()
            raise
        except Exception as e:  # noqa: BLE001 - any failure to reach the tracker is the user's to fix
            t.close()
            where = getattr(t, 'uri', '')
            raise ValueError(f'--log {kind}: the tracker{" at " + where if where else ""} cannot be used: '
                             f'{_first_line(e)}; start it, fix MLFLOW_TRACKING_URI, or drop --log.') from None
        trackers.append(t)
        echo(f'  logging to {t.describe()}')
    return SweepTracking(trackers, echo)


def _parent_files(outcome: Any, loaded: Any) -> dict[str, str]:
    """The files the parent run keeps at the end: this configuration's results.csv, tradeoff.png, recipe.yaml,
    and a report text written next to them (the trunk plot is logged while the runs train)."""
    files = {k: outcome.outputs.get(k, '') for k in ('config_csv', 'config_plot', 'recipe')}
    here = os.path.dirname(files.get('config_csv') or '')
    if not here:
        return files
    if outcome.report is not None:
        path = os.path.join(here, 'report.txt')
        with open(path, 'w') as f:
            f.write(outcome.report.text() + '\n')
        files['report'] = path
    return files


def plot_trunks(plan: Any, loaded: Any, path: str) -> str:
    """The LR multiplier of every ratio's run against batches, with the batch each branch leaves its trunk.

    Drawn without ``pyplot`` (a figure of its own, no global state): the MLflow writer process draws it while the
    sweep trains (:func:`_trunk_lines` here, :func:`_draw_trunks` there).

    Args:
        plan: the sweep's :class:`~composer_sched.sweep.plan.SweepPlan`.
        loaded: its recipe (:class:`~composer_sched.sweep.target.LoadedTarget`).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    return _draw_trunks(None, *_trunk_lines(plan, loaded), path)


def _trunk_lines(plan: Any, loaded: Any) -> tuple[dict, list[int]]:
    """What :func:`plot_trunks` draws, as plain data: ``{ratio: LR multiplier per batch}`` and the batches where a
    branch leaves its trunk."""
    from composer_sched.sweep.plan import ratio_curves

    curves = {r: [float(v) for v in c] for r, c in ratio_curves(loaded, sorted(plan.budgets)).items()}
    cuts = sorted({s.branch_batch for s in plan.runs if s.trunk_id and s.branch_batch})
    return curves, cuts


def _draw_trunks(_client: Any, curves: dict, cuts: Sequence[int], path: str) -> str:
    """Draw :func:`_trunk_lines`'s data into ``path`` (``_client``: unused; the writer process passes its own)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.91)  # not tight_layout: a whole draw more
    ax = fig.add_subplot()
    for i, (ratio, curve) in enumerate(sorted(curves.items())):
        ax.plot(range(1, len(curve) + 1), curve, color=f'C{i % 10}', label=f'ratio {ratio:g}')
    for cut in cuts:
        ax.axvline(cut, color='grey', linestyle=':', linewidth=1)
    ax.set_xlabel('batch')
    ax.set_ylabel('LR multiplier')
    ax.set_title('schedules of the sweep (dotted: a branch leaves its trunk)')
    if curves:
        ax.legend(fontsize=8)
    fig.savefig(path)
    return path


# ------------------------------------------------------------------------------------------------- worker side
def _wandb_id(fingerprint: str, run_id: str) -> str:
    return re.sub(r'[^A-Za-z0-9_-]', '_', run_id)[:48] + '-' + hashlib.sha1(
        f'{fingerprint}:{run_id}'.encode()).hexdigest()[:8]


#: Composer's metric keys worth overlaying by fraction of budget (not time/ counters or trainer/ settings).
_FRAC_KEYS = ('loss/', 'metrics/', 'lr-')


class _Guard:
    """Wraps a logger's hooks: the first exception switches it off and is remembered (the run trains on)."""

    def __init__(self) -> None:
        self.error: Optional[str] = None


#: Seconds between a run's sends to MLflow while it trains (a long run's curves show as it goes). What a run logged
#: since its last send travels back with its row and the driver sends it: the bundled sweep's 1-second runs talk to
#: MLflow not at all from the run itself.
LIVE_SECONDS = 10.0


def _mlflow_logger(cfg: dict, spec: Any, guard: _Guard):
    import fnmatch
    import inspect
    import time

    from composer.loggers import MLFlowLogger
    from composer.utils import dist

    budget = int(cfg['budgets'].get(spec.run_id) or 0)

    def child() -> Optional[str]:  # the run's MLflow id; in-process runs read it live (it may not exist yet)
        return cfg['runs'].get(spec.run_id)

    class _SweepMLFlowLogger(MLFlowLogger):
        # Composer's logger with what it logs (metrics, the trainer's hyperparameters as params, its tags) kept in
        # memory, each metric also under frac/ against thousandths of the run's budget; a thread sends them every
        # LIVE_SECONDS; the rest goes back with the row (take()). No MLflow call ever blocks a batch, and a
        # tracker down mid-run costs nothing: what was not sent travels with the row.
        _points: list
        _params: dict
        _tags: dict
        _lock: Any
        _stop: Any
        _thread: Any
        _sent: int
        _started: float
        _client: Any = None

        def __init__(self, **kwargs: Any) -> None:
            # Composer's constructor without its MLflow calls (mlflow.set_tracking_uri, a client that opens the
            # store, the experiment lookup): the sweep made the experiment and this run's child, and building a
            # run's loggers must not wait for the store nor change mlflow's process-wide state.
            a = inspect.signature(MLFlowLogger.__init__).bind(self, **kwargs)
            a.apply_defaults()
            args = a.arguments
            self._enabled = (not args['rank_zero_only']) or dist.get_global_rank() == 0
            for name in ('experiment_name', 'run_name', 'run_group', 'model_registry_prefix', 'model_registry_uri',
                         'synchronous', 'log_system_metrics', 'resume', 'log_duplicated_metric_every_n_steps'):
                setattr(self, name, args[name])
            self.tracking_uri = str(args['tracking_uri'])
            self.tags = dict(args['tags'] or {})
            self.rename_metrics = dict(args['rename_metrics'] or {})
            self.ignore_metrics = list(args['ignore_metrics'] or [])
            self.ignore_hyperparameters = list(args['ignore_hyperparameters'] or [])
            self._metrics_cache = {}
            self._rank_zero_only = args['rank_zero_only']
            self._last_flush_time = time.time()
            self._flush_interval = args['flush_interval']
            self._experiment_id, self._run_id, self.run_url = None, None, None
            self._points, self._params, self._tags = [], {}, {}
            self._lock, self._stop, self._thread, self._sent = threading.Lock(), threading.Event(), None, 0
            self._started = time.monotonic()

        @property
        def _mlflow_client(self) -> Any:  # type: ignore[override]  # made when first needed, off the batch path
            if self._client is None:
                if cfg.get('client') is not None:  # a run in the driver's process: through its writer process
                    self._client = cfg['client']
                else:
                    from mlflow import MlflowClient
                    self._client = MlflowClient(self.tracking_uri)
            return self._client

        def _call(self, fn: Callable, *a: Any, **k: Any) -> Any:
            if guard.error is not None:
                return None
            try:
                return fn(*a, **k)
            except Exception as e:  # noqa: BLE001
                guard.error = _first_line(e)
                self._enabled = False
                return None

        def _start_mlflow_run(self, state: Any) -> None:
            self._run_id = child()  # type: ignore[assignment]  # Composer declares it None until a run
            tags = dict(self.tags or {})
            if self.run_group:
                tags['run_group'] = self.run_group
            with self._lock:
                self._tags.update({str(k): str(v) for k, v in tags.items()})
            if self.log_system_metrics and self._run_id:  # MLflow's system-metrics monitor needs its fluent run
                import mlflow
                mlflow.set_tracking_uri(self.tracking_uri)
                self._call(mlflow.start_run, run_id=self._run_id, log_system_metrics=True)
            self._started = time.monotonic()

        def _go_live(self) -> None:
            # a run still going after LIVE_SECONDS gets its sending thread (a short run never needs one)
            self._thread = threading.Thread(target=self._live, name='composer-sched-mlflow-run', daemon=True)
            self._thread.start()

        def after_load(self, state: Any, logger: Any) -> None:
            self._call(super().after_load, state, logger)

        def log_hyperparameters(self, hyperparameters: dict) -> None:
            if not self._enabled:
                return
            keep = {str(k): str(v)[:6000] for k, v in hyperparameters.items()
                    if not any(fnmatch.fnmatch(k, pattern) for pattern in self.ignore_hyperparameters)}
            with self._lock:
                self._params.update(keep)

        def log_metrics(self, metrics: dict, step: Optional[int] = None) -> None:
            if not self._enabled:
                return
            step = int(step or 0)
            now = int(time.time() * 1000)
            new = []
            cache, every = self._metrics_cache, self.log_duplicated_metric_every_n_steps
            for k, v in metrics.items():
                if any(fnmatch.fnmatch(k, pattern) for pattern in self.ignore_metrics):
                    continue
                name, value = self.rename(k), float(v)
                last = cache.get(k)
                if last is not None and last[0] == value and step < last[1] + every:
                    continue  # Composer's rule: a value repeated within log_duplicated_metric_every_n_steps steps
                cache[k] = (value, step)
                new.append((name, value, now, step))
                if budget and k.startswith(_FRAC_KEYS):
                    new.append((f'frac/{name}', value, now, int(round(1000 * step / budget))))
            with self._lock:
                self._points.extend(new)
            if self._thread is None and time.monotonic() - self._started >= LIVE_SECONDS and not self._stop.is_set():
                self._go_live()

        def _live(self) -> None:
            while self._send() and not self._stop.wait(LIVE_SECONDS):
                pass

        def _send(self) -> bool:
            """Send what is kept (the first time, mark the run RUNNING); ``False`` once MLflow failed (the rest
            then travels with the row: nothing is dropped)."""
            mid = child()
            if not mid:
                return True  # its child is still being made: next time
            with self._lock:
                points, params, tags = self._points, self._params, self._tags
                # Composer's mlflow_run_id/mlflow_experiment_id stay for the driver, which knows their values
                self._points, self._tags = [], {}
                self._params = {k: v for k, v in params.items() if k.startswith('mlflow_')}
                params = {k: v for k, v in params.items() if not k.startswith('mlflow_')}
            try:
                if not self._sent:
                    self._mlflow_client.update_run(mid, status='RUNNING')
                what = dict(metrics=points, params=list(params.items()), tags=list(tags.items()))
                if isinstance(self._mlflow_client, _Writer):
                    self._mlflow_client.call(_log_batches, mid, **what)
                else:
                    _log_batches(self._mlflow_client, mid, **what)
                self._sent += len(points) + 1
                return True
            except Exception:  # noqa: BLE001 - put back in front: the driver sends them with the row
                with self._lock:
                    self._points[:0] = points
                    self._params = {**params, **self._params}
                    self._tags = {**tags, **self._tags}
                return False

        def take(self) -> Optional[dict]:
            """Stop sending and hand over what was not sent (for the row), once."""
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            with self._lock:
                out = {'metrics': [list(p) for p in self._points], 'params': self._params, 'tags': self._tags,
                       'live': self._sent}
                self._points, self._params, self._tags = [], {}, {}
            return out if (out['metrics'] or out['params'] or out['tags'] or out['live']) else None

        def log_table(self, *a: Any, **k: Any) -> None:
            self._call(super().log_table, *a, **k)

        def log_images(self, *a: Any, **k: Any) -> None:
            self._call(super().log_images, *a, **k)

        def post_close(self) -> None:
            # Only stop the sends: the driver ends the run. Nothing here touches MLflow, so the second close that
            # Composer's engine runs at interpreter exit (atexit) cannot open mlflow's default store in the cwd.
            self._stop.set()

    return _SweepMLFlowLogger(tracking_uri=cfg['uri'], run_name=None, **dict(cfg['kwargs']))


def _wandb_logger(cfg: dict, spec: Any, guard: _Guard):
    from composer.loggers import WandBLogger

    tags = list(cfg['tags'].get(spec.run_id) or [f'ratio={spec.ratio:g}', f'seed={spec.seed}'])
    config = {'ratio': spec.ratio, 'seed': spec.seed, 'sweep_run_id': spec.run_id,
              'fingerprint': cfg['fingerprint'], 'trunk': spec.trunk_id, 'branch_batch': spec.branch_batch}
    os.makedirs(cfg['dir'], exist_ok=True)
    os.environ.setdefault('WANDB_SILENT', 'true')  # no banner per run in the sweep's log

    class _SweepWandBLogger(WandBLogger):
        def init(self, state: Any, logger: Any) -> None:
            # Composer 0.32.1 reads wandb.run.get_url(), which current wandb (0.31) no longer has: it is .url.
            from wandb.sdk.wandb_run import Run
            if not hasattr(Run, 'get_url'):
                Run.get_url = lambda run: run.url  # type: ignore[attr-defined]
            super().init(state, logger)

    return _SweepWandBLogger(project=cfg['project'], group=cfg['group'], name=f'{_ratio_key(spec.ratio)}-s{spec.seed}',
                       entity=cfg.get('entity'), tags=tags,
                       init_kwargs={'id': _wandb_id(cfg['fingerprint'], spec.run_id), 'resume': 'allow',
                                    'dir': cfg['dir'], 'config': config, 'job_type': 'sweep-run'})


@contextlib.contextmanager
def run_loggers(track: Optional[dict], spec: Any, row: dict) -> Iterator[list]:
    """Within a worker: Composer loggers that log ``spec``'s run into its tracker runs (none when ``track`` is
    empty). The MLflow logger sends what the run logs every :data:`LIVE_SECONDS` from a thread of its own; on
    leaving, what it did not send goes into ``row['tracking']`` (the driver keeps it in ``results.sqlite`` with the
    row and sends it), an MLflow run left active (system metrics) is ended, and a tracker failure is put in
    ``row['tracking_error']`` (the run itself is unaffected).
    """
    if not track:
        yield []
        return
    guard = _Guard()
    loggers: list = []
    # mlflow.set_tracking_uri (which Composer's logger calls) also sets MLFLOW_TRACKING_URI: restored too, else a
    # later sweep in this process would take the previous sweep's store for the user's choice.
    keep = {k: os.environ.get(k) for k in ('MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID', 'MLFLOW_TRACKING_URI',
                                           'MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS', *_HTTP_ENV)}
    mlflow_logger = None
    try:
        if 'mlflow' in track and spec.run_id in track['mlflow']['budgets']:
            cfg = track['mlflow']
            os.environ.update(cfg.get('env') or {})
            mlflow_logger = _mlflow_logger(cfg, spec, guard)
            loggers.append(mlflow_logger)
        if 'wandb' in track:
            loggers.append(_wandb_logger(track['wandb'], spec, guard))
    except Exception as e:  # noqa: BLE001 - no logger is no reason to skip training
        guard.error = _first_line(e)
    try:
        yield loggers
    finally:
        if mlflow_logger is not None and mlflow_logger._enabled:  # rank 0: what the run logged and did not send
            payload = mlflow_logger.take()
            if payload:
                row.setdefault('tracking', {})['mlflow'] = payload
        if 'mlflow' in track and 'mlflow' in sys.modules:  # never imported here: no run nor URI of its to undo
            try:
                import mlflow
                if mlflow.active_run() is not None:  # the system-metrics monitor's run
                    mlflow.end_run('FAILED' if row.get('status') != 'done' else 'FINISHED')
            except Exception as e:  # noqa: BLE001
                guard.error = guard.error or _first_line(e)
            # mlflow's own global URI too (set_tracking_uri keeps it in the module, beside the environment): a later
            # sweep in this process would otherwise log to this run's store, e.g. a server since gone.
            try:
                import mlflow
                mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None: back to the environment's
            except Exception:  # noqa: BLE001
                pass
        if 'wandb' in track:
            try:
                import wandb
                if wandb.run is not None:
                    wandb.finish(exit_code=0 if row.get('status') == 'done' else 1)
            except Exception as e:  # noqa: BLE001
                guard.error = guard.error or _first_line(e)
        _restore_env(keep)  # last: set_tracking_uri(None) above unsets MLFLOW_TRACKING_URI, the user's comes back
        if guard.error:
            row['tracking_error'] = guard.error
