"""The durable record of a sweep: one sqlite row per run, written in one transaction when the run finishes.

A run that has no row (or a ``failed`` row) is not finished and is redone by the next sweep; a ``done`` row is
never redone. Rows are keyed by ``run_id``, which is derived from the recipe's fingerprint, the ratio and the
seed, so the same command always maps to the same rows and a restart cannot duplicate one.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import urllib.parse
from typing import Any, Iterable, Iterator, Optional, Union

__all__ = ['ResultsStore', 'RESULT_FIELDS']

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    config_hash     TEXT NOT NULL,
    ratio           REAL NOT NULL,
    seed            INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    batches         INTEGER,
    samples         INTEGER,
    trained_batches INTEGER,
    branched_from   TEXT,
    branch_batch    INTEGER,
    wall_s          REAL,
    equiv_wall_s    REAL,
    device_s        REAL,
    world_size      INTEGER,
    metrics         TEXT,
    error           TEXT,
    host            TEXT,
    started_at      REAL,
    finished_at     REAL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    predicted       INTEGER NOT NULL DEFAULT 0,
    prediction      TEXT,
    history         TEXT,
    origin          TEXT
);
CREATE TABLE IF NOT EXISTS sweeps (
    config_hash TEXT PRIMARY KEY,
    recipe_yaml TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tracked (
    key             TEXT NOT NULL,
    tracker         TEXT NOT NULL,
    location        TEXT NOT NULL,
    tracker_run_id  TEXT NOT NULL,
    PRIMARY KEY (key, tracker, location)
);
CREATE TABLE IF NOT EXISTS tracked_pending (
    run_id   TEXT NOT NULL,
    tracker  TEXT NOT NULL,
    location TEXT NOT NULL,
    payload  TEXT NOT NULL,
    PRIMARY KEY (run_id, tracker, location)
);
"""

#: Columns of ``runs``, in order (``metrics`` is a JSON object of the recipe's eval metrics; ``world_size``: the
#: processes the run trained with; ``predicted`` 1 for a row that ``--predict`` predicted instead of training, with
#: ``prediction`` (JSON: law, loss and its band, metric and its band, the runs it was fitted on); ``history``
#: (JSON) the eval loss and metrics every k batches of a run trained for a prediction); ``origin``: where a run
#: that did not train from scratch or branch exactly came from (``sweep --extend``: 'continued from ratio 1 seed 0
#: (...)').
RESULT_FIELDS = ('run_id', 'config_hash', 'ratio', 'seed', 'status', 'batches', 'samples', 'trained_batches',
                 'branched_from', 'branch_batch', 'wall_s', 'equiv_wall_s', 'device_s', 'world_size', 'metrics',
                 'error', 'host', 'started_at', 'finished_at', 'attempts', 'predicted', 'prediction', 'history',
                 'origin')
#: Columns added after the first release: a database from before gets them (``ALTER TABLE``).
_ADDED = (('world_size', 'INTEGER'), ('predicted', 'INTEGER NOT NULL DEFAULT 0'), ('prediction', 'TEXT'),
          ('history', 'TEXT'), ('origin', 'TEXT'))
#: JSON columns (decoded by :meth:`ResultsStore.rows`).
_JSON = ('metrics', 'prediction', 'history')


class ResultsStore:
    """A sweep's sqlite results database (WAL journal; every write is one transaction).

    Args:
        path: the database file; its folder is created. Several processes may open it at once.

    Raises:
        ValueError: ``path`` exists and is not a sweep database.

    Example:
        >>> import tempfile, os
        >>> store = ResultsStore(os.path.join(tempfile.mkdtemp(), 'results.sqlite'))
        >>> store.record({'run_id': 'abc-r0.5-s0', 'config_hash': 'abc', 'ratio': 0.5, 'seed': 0,
        ...               'status': 'done', 'metrics': {'accuracy': 0.9}})
        >>> store.done_ids('abc')
        {'abc-r0.5-s0'}
    """

    def __init__(self, path: Union[str, os.PathLike], readonly: bool = False):
        self.path = os.fspath(path)
        self.readonly = readonly
        if readonly:  # a finished sweep in a folder we cannot write: read it as it is, create nothing
            if not os.path.isfile(self.path):
                raise ValueError(f'results database {self.path!r} does not exist.')
            try:
                self._connect().close()
            except sqlite3.DatabaseError as e:
                raise ValueError(f'results database {self.path!r} cannot be read: {e}.') from None
            return
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)) or '.', exist_ok=True)
        except OSError as e:
            raise ValueError(f'results database {self.path!r} cannot be created: {e.strerror or e}.') from None
        try:
            conn = self._connect()
            try:
                conn.executescript(_SCHEMA)
                have = {r['name'] for r in conn.execute('PRAGMA table_info(runs)')}
                for name, kind in _ADDED:  # a database from before these columns
                    if name not in have:
                        conn.execute(f'ALTER TABLE runs ADD COLUMN {name} {kind}')
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            raise ValueError(f'results database {self.path!r} cannot be used: {e}.') from None

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            # immutable: no -wal/-shm files are created (the folder is read-only, and nothing can write it)
            uri = 'file:' + urllib.parse.quote(os.path.abspath(self.path)) + '?mode=ro&immutable=1'
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            conn.row_factory = sqlite3.Row
            return conn
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        conn.execute('PRAGMA journal_mode=WAL')
        conn.execute('PRAGMA synchronous=FULL')  # a committed run survives power loss, not just SIGKILL
        conn.row_factory = sqlite3.Row
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection in one ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back (and
        the error raised) when it raises, so a killed or failing write leaves no half of itself."""
        conn = self._connect()
        try:
            conn.execute('BEGIN IMMEDIATE')
            yield conn
            conn.execute('COMMIT')
        except BaseException:
            if conn.in_transaction:
                conn.execute('ROLLBACK')
            raise
        finally:
            conn.close()

    def sweeps(self) -> dict[str, str]:
        """``{config_hash: recipe YAML}`` of every sweep registered in this database."""
        conn = self._connect()
        try:
            rows = conn.execute('SELECT config_hash, recipe_yaml FROM sweeps ORDER BY created_at')
            return {r['config_hash']: r['recipe_yaml'] for r in rows}
        finally:
            conn.close()

    def register_sweep(self, config_hash: str, recipe_yaml: str) -> None:
        """Remember the recipe a ``config_hash`` stands for (first registration wins)."""
        conn = self._connect()
        try:
            conn.execute('INSERT OR IGNORE INTO sweeps VALUES (?, ?, ?)', (config_hash, recipe_yaml, time.time()))
        finally:
            conn.close()

    def tracked_ids(self, tracker: str, location: str) -> dict[str, str]:
        """``{key: tracker's run id}`` recorded for one tracker at one location (e.g. an MLflow URI and
        experiment); a key is a ``run_id``, or ``sweep:<config_hash>`` for a sweep's parent run."""
        conn = self._connect()
        try:
            rows = conn.execute('SELECT key, tracker_run_id FROM tracked WHERE tracker = ? AND location = ?',
                                (tracker, location))
            return {r['key']: r['tracker_run_id'] for r in rows}
        except sqlite3.OperationalError:  # a read-only database from before the table
            return {}
        finally:
            conn.close()

    def set_tracked_id(self, key: str, tracker: str, location: str, tracker_run_id: str) -> None:
        """Remember that ``key`` is ``tracker_run_id`` at ``tracker``/``location`` (replacing an earlier id)."""
        conn = self._connect()
        try:
            conn.execute('INSERT INTO tracked VALUES (?, ?, ?, ?) ON CONFLICT(key, tracker, location) DO UPDATE SET '
                         'tracker_run_id = excluded.tracker_run_id', (key, tracker, location, tracker_run_id))
        finally:
            conn.close()

    def set_tracked_ids(self, ids: dict[str, str], tracker: str, location: str) -> None:
        """:meth:`set_tracked_id` for many keys (``{key: tracker_run_id}``) in one transaction."""
        if not ids:
            return
        with self._transaction() as conn:
            conn.executemany('INSERT INTO tracked VALUES (?, ?, ?, ?) ON CONFLICT(key, tracker, location) DO UPDATE '
                             'SET tracker_run_id = excluded.tracker_run_id',
                             [(k, tracker, location, v) for k, v in ids.items()])

    def pending(self, tracker: str, location: str) -> dict[str, Any]:
        """``{run_id: payload}``: what runs logged for a tracker that it has not been sent yet (a run's last
        metrics travel with its row; they stay here until the tracker has them, so a driver killed before it
        sent them, or a tracker down, loses nothing: the next sweep in the folder sends them)."""
        conn = self._connect()
        try:
            rows = conn.execute('SELECT run_id, payload FROM tracked_pending WHERE tracker = ? AND location = ?',
                                (tracker, location))
            return {r['run_id']: json.loads(r['payload']) for r in rows}
        except sqlite3.OperationalError:  # a read-only database from before the table
            return {}
        finally:
            conn.close()

    def drop_pending(self, run_ids: Iterable[str], tracker: str, location: str) -> None:
        """Forget runs' pending payloads (the tracker has them), in one transaction."""
        ids = list(run_ids)
        if not ids:
            return
        with self._transaction() as conn:
            conn.executemany('DELETE FROM tracked_pending WHERE run_id = ? AND tracker = ? AND location = ?',
                             [(r, tracker, location) for r in ids])

    def record(self, result: dict[str, Any], pending: Iterable[tuple[str, str, Any]] = ()) -> None:
        """Write one finished (``done`` or ``failed``) run atomically, replacing an earlier attempt's row.

        ``pending``: ``(tracker, location, payload)`` of what the run logged that a tracker has not been sent yet
        (:meth:`pending`), written in the same transaction as the row.

        Raises:
            ValueError: ``status`` is not ``'done'`` or ``'failed'``, or a required key is missing.
        """
        for key in ('run_id', 'config_hash', 'ratio', 'seed', 'status'):
            if key not in result:
                raise ValueError(f'result is missing {key!r}: {sorted(result)}.')
        if result['status'] not in ('done', 'failed'):
            raise ValueError(f"status={result['status']!r} is not allowed: status must be 'done' or 'failed'.")
        row = {k: result.get(k) for k in RESULT_FIELDS if k != 'attempts'}
        for k in _JSON:
            if isinstance(row[k], dict):
                row[k] = json.dumps(row[k], sort_keys=True)
        row['predicted'] = int(bool(row['predicted']))
        row['finished_at'] = row['finished_at'] or time.time()
        replace = bool(row['predicted'])  # a prediction is redone with the latest fit; a trained run is final
        cols = ', '.join(row)
        marks = ', '.join('?' for _ in row)
        updates = ', '.join(f'{k}=excluded.{k}' for k in row if k != 'run_id')
        with self._transaction() as conn:
            # A done row is final: a late duplicate (e.g. a worker that outlived its sweep) must not overwrite it.
            conn.execute(f'INSERT INTO runs ({cols}) VALUES ({marks}) ON CONFLICT(run_id) DO UPDATE SET {updates}, '
                         f"attempts=runs.attempts + 1" + ('' if replace else " WHERE runs.status != 'done'"),
                         tuple(row.values()))
            for tracker, location, payload in pending:
                conn.execute('INSERT INTO tracked_pending VALUES (?, ?, ?, ?) ON CONFLICT(run_id, tracker, location) '
                             'DO UPDATE SET payload = excluded.payload',
                             (row['run_id'], tracker, location, json.dumps(payload)))

    def rows(self, config_hash: Optional[str] = None, status: Optional[str] = None) -> list[dict[str, Any]]:
        """All rows (optionally of one sweep and/or status), ``metrics`` decoded, sorted by ratio then seed."""
        where, args = [], []
        if config_hash is not None:
            where.append('config_hash = ?')
            args.append(config_hash)
        if status is not None:
            where.append('status = ?')
            args.append(status)
        sql = 'SELECT * FROM runs' + (' WHERE ' + ' AND '.join(where) if where else '') + ' ORDER BY ratio, seed'
        conn = self._connect()
        try:
            out = [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()
        for r in out:
            for k in _JSON:
                r[k] = json.loads(r[k]) if r.get(k) else ({} if k == 'metrics' else None)
            r['predicted'] = bool(r.get('predicted'))
        return out

    def done_ids(self, config_hash: str) -> set[str]:
        """The ``run_id`` of every finished, successful run of a sweep that was trained (not predicted)."""
        return {r['run_id'] for r in self.rows(config_hash, 'done') if not r['predicted']}

    def write_csv(self, path: Union[str, os.PathLike], rows: Iterable[dict[str, Any]]) -> str:
        """Write ``rows`` (from :meth:`rows`) as CSV, one metric per column; returns the path."""
        import csv

        rows = list(rows)
        metric_names = sorted({k for r in rows for k in r['metrics']})
        # The history (eval every k batches) stays in the database; the CSV has one line per run.
        fields = [f for f in RESULT_FIELDS if f not in ('metrics', 'history', 'prediction')] + metric_names
        if any(r.get('prediction') for r in rows):
            fields += ['predicted_loss', 'predicted_low', 'predicted_high', 'metric_low', 'metric_high']
        if any('recipe' in r for r in rows):  # a folder's CSV of several recipes names each row's
            fields.insert(fields.index('config_hash') + 1, 'recipe')
        tmp = f'{os.fspath(path)}.{os.getpid()}.tmp'  # two processes never write the same temporary file
        with open(tmp, 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in rows:
                p = r.get('prediction') or {}
                extra = {'predicted_loss': p.get('loss'), 'predicted_low': p.get('low'),
                         'predicted_high': p.get('high'), 'metric_low': p.get('metric_low'),
                         'metric_high': p.get('metric_high')} if p else {}
                w.writerow({**{k: r[k] for k in fields if k in r}, **r['metrics'], **extra})
        os.replace(tmp, path)
        return os.fspath(path)
