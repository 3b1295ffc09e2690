"""What a sweep trains: a recipe (a YAML path, or the bundled default) plus ``key=value`` overrides.

A :class:`SweepTarget` is small and picklable (path + overrides), so local worker processes and Ray tasks rebuild
the same recipe from it. Everything the planner needs (schedulers for the prefix check, ``max_duration``,
batches per epoch, per-run resources) and the one thing a run needs (a Composer ``Trainer`` for a ratio and a
seed) come from here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from typing import Any, Optional

__all__ = ['SweepTarget', 'LoadedTarget']

# Substrings of metric names where lower is better: LanguageCrossEntropy and LanguagePerplexity (the tiny LM's),
# any loss, error rate or regression error.
_LOWER_IS_BETTER = ('loss', 'perplexity', 'entropy', 'nll', 'error', 'mse', 'mae', 'ce')


@dataclasses.dataclass(frozen=True)
class SweepTarget:
    """A recipe to sweep: ``recipe`` path (``None``: the bundled default) and ``key=value`` overrides.

    Args:
        recipe: path of a YAML recipe, or ``None`` for the bundled digits-CNN default.
        overrides: ``'key=value'`` strings (dotted keys reach nested values), applied in order.
        processes: processes per run under Composer's launcher (``--procs-per-run``), ``>= 1``; ``None`` takes the
            recipe's ``resources.processes`` (``variables.resources.processes`` in a recipe file), default 1.

    Example:
        >>> t = SweepTarget(None, ('max_duration=2ep',))
        >>> t.load().max_duration
        Time(2, TimeUnit.EPOCH)
        >>> SweepTarget(None, ('max_duration=4ep',), processes=2).load().world_size
        2
    """
    recipe: Optional[str] = None
    overrides: tuple[str, ...] = ()
    processes: Optional[int] = None

    def load(self, seed: Optional[int] = None) -> 'LoadedTarget':
        """Load the recipe (with ``seed`` set, when given) as rank 0 of its runs' world sees it.

        Raises:
            ValueError: a bad recipe, override or process count.
        """
        if self.processes is not None:
            _check_processes('--procs-per-run', self.processes)
        loaded = self._load(seed)
        n = int(loaded.resources['processes'])  # an int already (checked by _check_processes)
        if n > 1 and os.environ.get('WORLD_SIZE') != str(n):
            # Batches per epoch are per rank (distributed samplers), and budgets and branch points are counted in
            # them: plan with what rank 0 of n processes will see. Inside the launched ranks WORLD_SIZE is n already.
            with _as_rank0_of(n):
                loaded = self._load(seed)
        loaded.world_size = n
        return loaded

    def _load(self, seed: Optional[int]) -> 'LoadedTarget':
        loaded = self._load_config(seed)
        loaded.processes_override = self.processes
        return loaded

    def _load_config(self, seed: Optional[int]) -> 'LoadedTarget':
        from composer_sched.recipes import load_recipe

        extra = () if seed is None else (f'seed={int(seed)}',)
        return _RecipeTarget(load_recipe(self.recipe, tuple(self.overrides) + extra))


@contextlib.contextmanager
def _as_rank0_of(n: int):
    """Composer's ``dist`` reads these when no process group exists: data is split as rank 0 of ``n`` sees it."""
    saved = {k: os.environ.get(k) for k in ('WORLD_SIZE', 'RANK', 'LOCAL_WORLD_SIZE', 'LOCAL_RANK')}
    os.environ.update(WORLD_SIZE=str(n), RANK='0', LOCAL_WORLD_SIZE=str(n), LOCAL_RANK='0')
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_processes(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{key}={value!r} is not allowed: {key} must be an int >= 1 (processes per run, launched '
                         "with Composer's launcher when > 1).")
    return value


class LoadedTarget:
    """A loaded recipe, as the planner and the runs see it (see :meth:`SweepTarget.load`)."""

    config: dict[str, Any]
    #: Processes each run trains with (set by :meth:`SweepTarget.load`).
    world_size: int = 1
    #: ``--procs-per-run``, which wins over the recipe's ``processes``.
    processes_override: Optional[int] = None
    #: Where the recipe keeps per-run resources (named in errors).
    resources_key = 'resources'

    def _hash(self, cfg: dict) -> str:
        if self.world_size > 1:  # results differ with the world size, so its runs must not share rows with 1
            cfg = {**cfg, 'world_size': self.world_size}
        return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]

    @property
    def fingerprint(self) -> str:
        """Hash of the recipe without its seed (and the world size when > 1): the rows of one sweep share it."""
        return self._hash({k: v for k, v in self.config.items() if k != 'seed'})

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.config, sort_keys=False)

    @property
    def name(self) -> str:
        return str(self.config.get('name', 'recipe'))

    # Set by subclasses.
    max_duration: Any
    dataloader_len: int
    samples_per_batch: int

    def schedulers(self) -> list:
        raise NotImplementedError

    @property
    def sweep_max_duration(self):
        """``max_duration`` as the sweep trains it: epochs become batches, so a ratio scales batches.

        Composer int-truncates a scaled duration in its own unit (``3ep x 0.25 = 0ep``); in batches every ratio
        gets its share, rounded down to a whole batch.
        """
        from composer.core import Time, TimeUnit

        md = self.max_duration
        if md.unit == TimeUnit.EPOCH:
            return Time(int(md.value) * int(self.dataloader_len), TimeUnit.BATCH)
        return md

    def algorithm_names(self) -> list[str]:
        return [type(a).__name__ for a in self.algorithms()]

    def algorithms(self) -> list:
        """Fresh algorithm objects a run trains with (the recipe's, minus the scale ones folded into
        :attr:`recipe_ratio`)."""
        return []

    #: The recipe's own scale: its ``scale_schedule_ratio`` times every ``ScaleSchedule`` ratio among its
    #: algorithms. A sweep ratio ``r`` trains with ``Trainer(scale_schedule_ratio=r * recipe_ratio)``.
    recipe_ratio: float = 1.0

    def run_ratio(self, ratio: float) -> float:
        """The scale-schedule ratio a run at sweep ratio ``ratio`` trains with: ``ratio * recipe_ratio``."""
        return float(ratio) * self.recipe_ratio

    @property
    def resources(self) -> dict[str, float]:
        """Per-run resources: ``{'cpus': >= 1, 'gpus': >= 0, 'processes': int >= 1}`` (the recipe's ``resources``
        section; ``--procs-per-run`` wins for ``processes``). ``cpus`` and ``gpus`` are per process."""
        return self._checked_resources(dict(self.config.get('resources') or {}))

    def _checked_resources(self, res: dict[str, Any]) -> dict[str, float]:
        """:attr:`resources` from the section ``res`` as written (``--procs-per-run`` applied), checked."""
        cpus, gpus = res.get('cpus', 1), res.get('gpus', 0)
        key = self.resources_key
        if not isinstance(cpus, (int, float)) or cpus < 1:
            raise ValueError(f'{key}.cpus={cpus!r} is not allowed: {key}.cpus must be a number >= 1.')
        if not isinstance(gpus, (int, float)) or gpus < 0:
            raise ValueError(f'{key}.gpus={gpus!r} is not allowed: {key}.gpus must be a number >= 0.')
        procs = (_check_processes('--procs-per-run', self.processes_override) if self.processes_override is not None
                 else _check_processes(f'{key}.processes', res.get('processes', 1)))
        return {'cpus': cpus, 'gpus': gpus, 'processes': procs}

    def build_trainer(self, ratio: float, **trainer_kwargs: Any):
        raise NotImplementedError


def loaded_target(recipe: Any) -> LoadedTarget:
    """A loaded :class:`~composer_sched.recipes.Recipe` as a sweep sees it (``train --extend-to`` trains a ratio of
    it exactly as a sweep's run), with the current world size."""
    loaded = _RecipeTarget(recipe)
    loaded.world_size = _world_size()
    return loaded


def metric_goal(name: str) -> str:
    """``'min'`` for metrics whose name says lower is better (loss, cross-entropy, perplexity, error), else ``'max'``.

    Example:
        >>> metric_goal('LanguageCrossEntropy'), metric_goal('LanguagePerplexity'), metric_goal('MulticlassAccuracy')
        ('min', 'min', 'max')
    """
    low = name.lower()
    return 'min' if any(w in low for w in _LOWER_IS_BETTER) else 'max'


class _RecipeTarget(LoadedTarget):
    def __init__(self, recipe: Any):
        from composer.core import Time, TimeUnit

        self.recipe = recipe
        self.config = recipe.to_dict()
        md = recipe.max_duration
        self.max_duration = Time(int(md), TimeUnit.EPOCH) if isinstance(md, int) else Time.from_timestring(str(md))
        self.dataloader_len = int(recipe.dataloader_len)
        self.samples_per_batch = int(_find(self.config.get('data', {}), 'batch_size') or 1) * _world_size()

    resources_key = 'variables.resources'

    @property
    def fingerprint(self) -> str:
        # The sweep sets the seed itself, and the run name is cosmetic. The recipe's own ratio composes with the
        # sweep's, so it is part of the recipe (left out at 1, which keeps the keys of earlier sweeps).
        skip = ('seed', 'run_name', 'progress_bar', 'loggers') + (
            ('scale_schedule_ratio',) if self.config.get('scale_schedule_ratio', 1.0) == 1.0 else ())
        cfg = {k: v for k, v in self.config.items() if k not in skip}
        # The training data's own description (the text corpus's SHA-256 and size, text_data.py): the same recipe
        # on another text, e.g. Python's documentation under another Python version, is another sweep. Where the
        # file lives is not what it holds, so its source is left out; datasets without metadata keep their keys.
        meta = self.data_metadata()
        if meta:
            cfg['data_metadata'] = meta
        return self._hash(cfg)

    def data_metadata(self) -> dict:
        """The training dataset's ``metadata`` without its ``source`` (``{}`` when it has none); read once."""
        meta = getattr(self.recipe.datasets()[0], 'metadata', None) or {}
        return {k: v for k, v in sorted(dict(meta).items()) if not str(k).endswith('source')}

    def _split_algorithms(self) -> tuple[list, float]:
        # A scale algorithm (ScaleSchedule) is folded into the Trainer's ratio: one dilation of max_duration in
        # batches, which is what the planner previews, instead of a second truncation by the algorithm.
        kept, ratio = [], float(self.recipe.scale_schedule_ratio)
        for a in self.recipe.build_algorithms():
            if getattr(a, 'schedule_role', None) == 'scale' and isinstance(getattr(a, 'ratio', None), (int, float)):
                ratio *= float(a.ratio)
            else:
                kept.append(a)
        return kept, ratio

    @property
    def recipe_ratio(self) -> float:  # type: ignore[override]
        return self._split_algorithms()[1]

    def algorithms(self) -> list:
        return self._split_algorithms()[0]

    @property
    def name(self) -> str:
        import os
        return str(self.config.get('name') or os.path.splitext(os.path.basename(str(self.recipe.path)))[0])

    def to_yaml(self) -> str:
        return self.recipe.to_yaml()

    def schedulers(self) -> list:
        # What the run trains with: several schedulers as one ProductScheduler (they multiply).
        return list(self.recipe.build_schedule())

    @property
    def resources(self) -> dict[str, float]:
        # Recipes have no resources section: a GPU recipe takes one GPU per process unless variables.resources
        # says otherwise ({cpus: N, gpus: M, processes: P}).
        res = dict((self.config.get('variables') or {}).get('resources') or {})
        res.setdefault('gpus', 1 if self.config.get('device') == 'gpu' else 0)
        res.setdefault('cpus', 1)
        return self._checked_resources(res)

    def build_trainer(self, ratio: float, **trainer_kwargs: Any):
        md, ssr = self.sweep_max_duration, self.run_ratio(ratio)
        if not self.config.get('schedulers'):
            # Composer refuses a ratio without schedulers (the schedule is an algorithm's): give the scaled budget
            # itself, which is what the algorithms would see (and what the planner previews).
            from composer_sched.adapters.durations import scaled_max_duration
            md, ssr = scaled_max_duration(md, ssr), 1.0
        kwargs = dict(scale_schedule_ratio=ssr, algorithms=self.algorithms(), max_duration=md, progress_bar=False,
                      log_to_console=False)
        kwargs.update(trainer_kwargs)
        return self.recipe.build_trainer(**kwargs)


def _world_size() -> int:
    from composer.utils import dist
    return dist.get_world_size()


def _find(cfg: Any, key: str) -> Any:
    if isinstance(cfg, dict):
        if key in cfg:
            return cfg[key]
        for v in cfg.values():
            found = _find(v, key)
            if found is not None:
                return found
    return None
