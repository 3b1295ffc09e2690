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

Only the sweep driver writes ``results.sqlite``: it creates the parent and the children before any training and
stores each MLflow run id against the sqlite ``run_id`` (table ``tracked``), so a rerun or an extension reuses the
parent and the finished children, and a retried run logs into its failed child (``attempts`` tag), never a new one.
Workers get the ids and log through Composer's own loggers (rank 0 only). A tracker that cannot be reached is a
``ValueError`` before training; one that fails later is reported and never costs a result in ``results.sqlite``.

``--log wandb``: every run through Composer's ``WandBLogger`` with ``group=<recipe>-<fingerprint>``, the same tags
and a stable id (``WANDB_MODE=offline`` works without an account; files under ``DIR/wandb``).

mlflow and wandb are imported inside functions: the CLI starts without them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import os
import re
from typing import Any, Callable, Iterator, Optional, Sequence

__all__ = ['TRACKERS', 'parse_log', 'open_tracking', 'SweepTracking', 'run_loggers']

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


def _seed_store(path: str) -> None:
    """Start a new local MLflow store as a copy of an empty one already migrated by this mlflow version.

    MLflow builds a new SQLite store by running its ~100 schema migrations, seconds of work per sweep folder
    (10 s on a busy 2-core machine, 40% of the bundled sweep); the migrated empty store is made once per mlflow
    version in the user's cache (``$XDG_CACHE_HOME/composer-sched``) and copied. Any failure: MLflow builds it.
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

    # ------------------------------------------------------------------------------------------ before training
    def open(self, runs: Sequence[Any]) -> None:
        """Reach the tracker, find or create the experiment, the parent and a child per run in ``runs``."""
        import logging

        from mlflow import MlflowClient

        for name in ('mlflow', 'alembic'):  # the store's schema creation talks at INFO level
            logging.getLogger(name).setLevel(logging.WARNING)
        # MLflow's REST client retries for minutes by default: the check before training answers in seconds.
        if self.local:
            _seed_store(self.uri[len('sqlite:///'):])
        with _http_env({'MLFLOW_HTTP_REQUEST_MAX_RETRIES': '0', 'MLFLOW_HTTP_REQUEST_TIMEOUT': '15'}, force=True):
            self.client = MlflowClient(tracking_uri=self.uri)
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is not None and exp.lifecycle_stage != 'active':
                self.client.restore_experiment(exp.experiment_id)
            self.experiment_id = exp.experiment_id if exp is not None else self.client.create_experiment(
                self.experiment, artifact_location=self.artifacts,
                # the UI opens a new experiment as model training (runs, charts), not GenAI traces
                tags={'mlflow.experimentKind': 'custom_model_development'})
            self.ids = self.store.tracked_ids(self.kind, self.location)
            self.parent = self._reuse(self.ids.get(self._sweep_key())) or self._new_parent()
            self.client.update_run(self.parent, status='RUNNING')
            for spec in runs:
                if not self._reuse(self.ids.get(spec.run_id)):
                    self._new_child(spec.run_id, spec.ratio, spec.seed, self._spec_tags(spec))

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

    def _new_child(self, run_id: str, ratio: float, seed: int, tags: dict[str, str]) -> str:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        all_tags = {MLFLOW_PARENT_RUN_ID: self.parent, 'composer_sched.kind': 'run', 'composer_sched.run_id': run_id,
                    'ratio': f'{ratio:g}', 'seed': str(seed), 'status': 'scheduled', **tags, **self.extra_tags}
        run = self.client.create_run(self.experiment_id, run_name=f'{_ratio_key(ratio)}-s{seed}', tags=all_tags)
        self._remember(run_id, run.info.run_id)
        self.client.update_run(run.info.run_id, status='SCHEDULED')
        return run.info.run_id

    def worker(self) -> dict:
        """What a worker needs to log a run into its child (plain types: it is pickled to workers and ranks)."""
        keep = {k: v for k, v in self.cfg.items() if k not in _RESERVED}
        keep.setdefault('log_system_metrics', False)
        env = {k: os.environ.get(k, v) for k, v in _HTTP_ENV.items()}
        return {'uri': self.uri, 'experiment_id': self.experiment_id, 'runs': dict(self.ids), 'env': env,
                'budgets': {s.run_id: int(self.job.plan.budgets[s.ratio]) for s in self.job.plan.runs},
                'kwargs': keep}

    # ------------------------------------------------------------------------------------------ as runs finish
    def recorded(self, spec: Any, row: dict) -> None:
        """The driver's word on a finished run: status, attempts, final metrics, cost; then terminate it."""
        mid = self.ids.get(spec.run_id)
        if not mid:
            return
        self._log_row(mid, row, attempts=self._attempts(spec.run_id))

    def _attempts(self, run_id: str) -> int:
        row = next((r for r in self.store.rows(self.job.config_hash) if r['run_id'] == run_id), None)
        return int(row['attempts']) if row else 1

    def _log_row(self, mid: str, row: dict, attempts: Optional[int] = None) -> None:
        import time

        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        step = int(row.get('batches') or 0)
        values = {f'final/{k}': v for k, v in (row.get('metrics') or {}).items()}
        for k in ('batches', 'wall_s', 'equiv_wall_s', 'device_s'):
            if isinstance(row.get(k), (int, float)):
                values[f'cost/{k}'] = row[k]
        values = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        have = self.client.get_run(mid).data
        tags = {'status': row['status'], 'world_size': str(row.get('world_size') or 1)}
        if attempts is not None:
            tags['attempts'] = str(attempts)
        if row.get('error'):
            tags['error'] = str(row['error'])[:4000]
        if row.get('branched_from'):
            tags['trunk'] = str(row['branched_from'])
            tags['branch_batch'] = str(row.get('branch_batch'))
            if self.ids.get(row['branched_from']):
                tags['trunk_mlflow_run'] = self.ids[row['branched_from']]
        elif row['status'] == 'done' and have.tags.get('trunk') != 'self':
            # planned as a branch, but its trunk's checkpoint was missing: it trained from scratch
            tags.update(trunk='none', branch_batch='0')
        metrics = [Metric(k, v, now, step) for k, v in values.items() if have.metrics.get(k) != v]
        tag_list = [RunTag(k, v) for k, v in tags.items() if have.tags.get(k) != v]
        if metrics or tag_list:
            self.client.log_batch(mid, metrics=metrics, tags=tag_list)
        self.client.set_terminated(mid, 'FINISHED' if row['status'] == 'done' else 'FAILED')

    # ------------------------------------------------------------------------------------------ after the sweep
    def finish(self, outcome: Any, files: dict[str, str]) -> None:
        """Children for rows not logged yet (predicted rows, rows of sweeps that ran without ``--log``), then the
        parent's params, tags, metrics and artifacts; the parent ends FINISHED, or FAILED when a run failed."""
        self._children_of_rows(outcome.rows)
        self._parent(outcome, files)

    def _children_of_rows(self, rows: list[dict]) -> None:
        from mlflow.entities import Metric

        for row in rows:
            mid = self._reuse(self.ids.get(row['run_id']))
            if row.get('predicted'):
                if not mid:
                    mid = self._new_child(row['run_id'], row['ratio'], row['seed'], {'predicted': 'true'})
                p = row.get('prediction') or {}
                values = {f'predicted/{k}': p.get(k) for k in ('loss', 'low', 'high', 'metric_low', 'metric_high')}
                for k, band in (p.get('metrics') or {}).items():
                    if isinstance(band, dict):
                        values.update({f'predicted/{k}_low': band.get('low'), f'predicted/{k}_high': band.get('high')})
                import time
                now = int(time.time() * 1000)
                have = self.client.get_run(mid).data.metrics
                new = [Metric(k, float(v), now, 0) for k, v in values.items()
                       if isinstance(v, (int, float)) and math.isfinite(v) and have.get(k) != float(v)]
                if new:
                    self.client.log_batch(mid, metrics=new)
                self._log_row(mid, row)
            elif not mid:
                # Finished before this folder logged to this tracker: the final numbers, without curves.
                mid = self._new_child(row['run_id'], row['ratio'], row['seed'], {'backfilled': 'true'})
                self._log_row(mid, row, attempts=row.get('attempts'))
            else:
                run = self.client.get_run(mid)
                if run.data.tags.get('status') != row['status'] or run.info.status in ('RUNNING', 'SCHEDULED'):
                    # recorded while the tracker was down, or by a sweep killed before it told the tracker
                    self._log_row(mid, row, attempts=row.get('attempts'))

    def _parent(self, outcome: Any, files: dict[str, str]) -> None:
        import time

        from mlflow.entities import Metric, Param, RunTag

        job, pid = self.job, self.parent
        have = self.client.get_run(pid).data
        skip = ('seed', 'run_name', 'progress_bar', 'loggers')
        cfg = {k: v for k, v in job.loaded.config.items() if k not in skip}
        params = {k: v for k, v in _flatten(cfg).items() if k and k not in have.params}
        plist = [Param(k[:250], v) for k, v in params.items()]
        for i in range(0, len(plist), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(pid, params=plist[i:i + 100])
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
        metrics = [Metric(k, float(v), now, 0) for k, v in values.items()
                   if isinstance(v, (int, float)) and math.isfinite(v) and have.metrics.get(k) != float(v)]
        tag_list = [RunTag(k, v) for k, v in tags.items() if have.tags.get(k) != v]
        if metrics or tag_list:
            self.client.log_batch(pid, metrics=metrics, tags=tag_list)
        for path in files.values():
            if path and os.path.isfile(path):
                self.client.log_artifact(pid, path)
        self.client.set_terminated(pid, 'FAILED' if outcome.failed else 'FINISHED')

    def short(self) -> str:
        return f'parent run {self.parent}'

    def describe(self) -> str:
        where = f'{self.uri} (see it: mlflow ui --backend-store-uri {self.uri})' if self.local else self.uri
        return f'MLflow: experiment {self.experiment!r}, parent run {self.parent} at {where}'


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

    def worker(self) -> dict:
        return {'project': self.project, 'group': self.group, 'entity': self.cfg.get('entity'), 'dir': self.dir,
                'tags': self.tags, 'fingerprint': self.job.config_hash}

    def recorded(self, spec: Any, row: dict) -> None:
        pass

    def finish(self, outcome: Any, files: dict[str, str]) -> None:
        pass

    def short(self) -> str:
        return f'group {self.group!r}'

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
    after the outputs are written. Every call after :meth:`open` reports a failure and carries on: the tracker
    is a view of ``results.sqlite``, never a reason to lose a run."""
    trackers: list
    echo: Callable[[str], None]
    broken: dict = dataclasses.field(default_factory=dict)

    def worker(self) -> dict:
        """``{tracker: what workers need}``, handed to :func:`~composer_sched.sweep.execute.run_one`."""
        return {t.kind: t.worker() for t in self.trackers if t.kind not in self.broken}

    def _safely(self, t: Any, what: str, fn: Callable[[], None]) -> None:
        if t.kind in self.broken:
            return
        try:
            with _http_env(_HTTP_ENV):
                fn()
        except Exception as e:  # noqa: BLE001 - a tracker down mid-sweep: say so once, keep training
            self.broken[t.kind] = _first_line(e)
            self.echo(f'  {t.kind}: {what} failed ({self.broken[t.kind]}); the sweep goes on, every result is in '
                      f'results.sqlite; rerun the same command to log what is missing.')

    def recorded(self, spec: Any, row: dict) -> None:
        if row.get('tracking_error'):
            self.echo(f'  tracker: ratio {spec.ratio:g} seed {spec.seed} logged partly: {row["tracking_error"]}')
        for t in self.trackers:
            self._safely(t, f'logging run {spec.run_id}', functools.partial(t.recorded, spec, row))

    def finish(self, outcome: Any, loaded: Any) -> None:
        files = _parent_files(outcome, loaded)
        for t in self.trackers:
            self._safely(t, 'logging the sweep', functools.partial(t.finish, outcome, files))
            if t.kind not in self.broken:
                self.echo(f'  logged to {t.kind}: {t.short()}')

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
        try:
            __import__(module)
        except ImportError:
            raise ValueError(f"--log {kind} needs {module}: pip install 'composer-sched[{module}]'.") from None
        cls = _Mlflow if kind == 'mlflow' else _Wandb
        t = cls(dict(cfg_mlflow or {}) if kind == 'mlflow' else {}, job, store, echo)
        try:
            t.open(runs)
        except ValueError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to reach the tracker is the user's to fix
            where = getattr(t, 'uri', '')
            raise ValueError(f'--log {kind}: the tracker{" at " + where if where else ""} cannot be used: '
                             f'{_first_line(e)}; start it, fix MLFLOW_TRACKING_URI, or drop --log.') from None
        trackers.append(t)
        echo(f'  logging to {t.describe()}')
    return SweepTracking(trackers, echo)


def _parent_files(outcome: Any, loaded: Any) -> dict[str, str]:
    """The files the parent run keeps: this configuration's results.csv, tradeoff.png, recipe.yaml, and a report
    text and a trunk plot written next to them."""
    files = {k: outcome.outputs.get(k, '') for k in ('config_csv', 'config_plot', 'recipe')}
    here = os.path.dirname(files.get('config_csv') or '')
    if not here:
        return files
    if outcome.report is not None:
        path = os.path.join(here, 'report.txt')
        with open(path, 'w') as f:
            f.write(outcome.report.text() + '\n')
        files['report'] = path
    try:
        files['schedules'] = plot_trunks(outcome.plan, loaded, os.path.join(here, 'schedules.png'))
    except Exception:  # noqa: BLE001 - a picture is not worth failing the log over
        pass
    return files


def plot_trunks(plan: Any, loaded: Any, path: str) -> str:
    """The LR multiplier of every ratio's run against batches, with the batch each branch leaves its trunk.

    Args:
        plan: the sweep's :class:`~composer_sched.sweep.plan.SweepPlan`.
        loaded: its recipe (:class:`~composer_sched.sweep.target.LoadedTarget`).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from composer_sched.sweep.plan import ratio_curves

    curves = ratio_curves(loaded, sorted(plan.budgets))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for i, (ratio, curve) in enumerate(sorted(curves.items())):
        ax.plot(range(1, len(curve) + 1), curve, color=f'C{i % 10}', label=f'ratio {ratio:g}')
    seen = set()
    for s in plan.runs:
        if s.trunk_id and s.branch_batch and (s.ratio, s.branch_batch) not in seen:
            seen.add((s.ratio, s.branch_batch))
            ax.axvline(s.branch_batch, color='grey', linestyle=':', linewidth=1)
    ax.set_xlabel('batch')
    ax.set_ylabel('LR multiplier')
    ax.set_title('schedules of the sweep (dotted: a branch leaves its trunk)')
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
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


def _mlflow_logger(cfg: dict, spec: Any, guard: _Guard):
    import fnmatch
    import time

    from composer.loggers import MLFlowLogger
    from mlflow.entities import Metric

    budget = int(cfg['budgets'].get(spec.run_id) or 0)

    class _SweepMLFlowLogger(MLFlowLogger):
        # Composer's logger, every call guarded (a tracker down mid-run must not fail the run), and each metric
        # also logged under frac/ against thousandths of the run's budget.
        _points: list
        _sent: int

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
            self._call(super()._start_mlflow_run, state)

        def after_load(self, state: Any, logger: Any) -> None:
            self._call(super().after_load, state, logger)

        def log_hyperparameters(self, hyperparameters: dict) -> None:
            self._call(super().log_hyperparameters, hyperparameters)

        def log_metrics(self, metrics: dict, step: Optional[int] = None) -> None:
            # Buffered and sent as one log_batch every few seconds: mlflow.log_metrics costs ~1 ms a call, which
            # every batch of a small model pays (+25% of the bundled sweep's wall time). Every point is kept.
            if not self._enabled or guard.error is not None:
                return
            step = int(step or 0)
            now = int(time.time() * 1000)
            for k, v in metrics.items():
                if any(fnmatch.fnmatch(k, pattern) for pattern in self.ignore_metrics):
                    continue
                name, value = self.rename(k), float(v)
                self._points.append(Metric(name, value, now, step))
                if budget and k.startswith(_FRAC_KEYS):
                    self._points.append(Metric(f'frac/{name}', value, now, int(round(1000 * step / budget))))
            if len(self._points) >= 1000 or now - self._sent >= 5000:
                self._call(self._send)

        def _send(self) -> None:
            points, self._points = self._points, []
            self._sent = int(time.time() * 1000)
            for i in range(0, len(points), 1000):  # MLflow's limit per batch
                self._mlflow_client.log_batch(str(self._run_id), metrics=points[i:i + 1000], synchronous=True)

        def log_table(self, *a: Any, **k: Any) -> None:
            self._call(super().log_table, *a, **k)

        def log_images(self, *a: Any, **k: Any) -> None:
            self._call(super().log_images, *a, **k)

        def post_close(self) -> None:
            if self._enabled and self._points:
                self._call(self._send)
            if self._enabled:
                self._call(super().post_close)

    kwargs = dict(cfg['kwargs'])
    logger = _SweepMLFlowLogger(tracking_uri=cfg['uri'], run_name=None, **kwargs)
    logger._points, logger._sent = [], int(time.time() * 1000)
    return logger


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
    empty). The MLflow run id goes to Composer's ``MLFlowLogger`` as ``MLFLOW_RUN_ID`` (restored afterwards); on
    leaving, an MLflow run left active by a failed run is ended, and a tracker failure is put in
    ``row['tracking_error']`` (the run itself is unaffected).
    """
    if not track:
        yield []
        return
    guard = _Guard()
    loggers: list = []
    # mlflow.set_tracking_uri (which Composer's logger calls) also sets MLFLOW_TRACKING_URI: restored too, else a
    # later sweep in this process would take the previous sweep's store for the user's choice.
    keep = {k: os.environ.get(k) for k in ('MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID', 'MLFLOW_TRACKING_URI', *_HTTP_ENV)}
    try:
        if 'mlflow' in track and track['mlflow']['runs'].get(spec.run_id):
            cfg = track['mlflow']
            os.environ.update(cfg.get('env') or {})
            os.environ['MLFLOW_RUN_ID'] = cfg['runs'][spec.run_id]
            os.environ['MLFLOW_EXPERIMENT_ID'] = cfg['experiment_id']
            loggers.append(_mlflow_logger(cfg, spec, guard))
        if 'wandb' in track:
            loggers.append(_wandb_logger(track['wandb'], spec, guard))
    except Exception as e:  # noqa: BLE001 - no logger is no reason to skip training
        guard.error = _first_line(e)
    try:
        yield loggers
    finally:
        if 'mlflow' in track:
            try:
                import mlflow
                if mlflow.active_run() is not None:
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
