"""Loading a recipe (file, base, overrides, interpolation, checks) and building its Composer Trainer."""
from __future__ import annotations

import copy
import dataclasses
import io
import math
import os
import posixpath
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union, cast

import numpy as np

from composer_sched.adapters.durations import check_ratio
from composer_sched.recipes import components as C
from composer_sched.recipes.bundled import DEFAULT_RECIPE, bundled_file, bundled_recipes, bundled_root
from composer_sched.recipes.overrides import parse_override
from composer_sched.recipes.schema import DEVICES, REQUIRED_KEYS, RecipeConfig, RecipeError, check_section
from composer_sched.schedules.registry import suggest

__all__ = ['load_recipe', 'Recipe', 'recipe_dir', 'bundled_recipes', 'DEFAULT_RECIPE']

_TIME_UNITS = ('ep', 'ba', 'sp', 'tok')


def recipe_dir():
    """The folder of bundled recipes, ``composer_sched/recipes/yamls`` (an :mod:`importlib.resources` ``Traversable``;
    see :mod:`composer_sched.recipes.bundled`)."""
    return bundled_root()


@dataclasses.dataclass(frozen=True)
class _Source:
    """A recipe file: a user's file on disk, or a bundled recipe read through :mod:`importlib.resources`."""
    label: str                      # what messages and ``Recipe.path`` show
    stem: str                       # the file name without ``.yaml`` (a recipe's default name)
    read: Any                       # () -> the file's text
    bundled: Optional[str] = None   # the bundled name ('algorithms/wsd'), for bases relative to it

    @property
    def key(self) -> str:
        """The same for every way of naming one file (``a/../a/r.yaml``, a link), to find cycles of bases."""
        return f'bundled:{self.bundled}' if self.bundled is not None else os.path.realpath(self.label)

    def sibling(self, text: str) -> Optional['_Source']:
        """``text`` relative to this file's folder (a ``base:`` entry), if there is such a file."""
        if self.bundled is not None:
            folder = self.bundled.rpartition('/')[0]
            return _bundled_source(f'{folder}/{text}' if folder else text)
        cand = Path(self.label).parent / text
        return _file_source(cand) if cand.is_file() else None


def _file_source(path: Path) -> _Source:
    return _Source(str(path), path.stem, lambda: path.read_text(encoding='utf-8'))


def _bundled_source(name: str) -> Optional[_Source]:
    node = bundled_file(name)
    if node is None:
        return None
    bundled = posixpath.normpath(name.replace('\\', '/'))
    bundled = bundled[:-len('.yaml')] if bundled.endswith('.yaml') else bundled
    return _Source(str(node), node.name[:-len('.yaml')], lambda: node.read_text(encoding='utf-8'), bundled)


def _find(name: Union[str, os.PathLike], relative_to: Optional[_Source] = None) -> _Source:
    """A recipe by name: relative to the recipe that names it as its base, a file, else a bundled recipe."""
    text = os.fspath(name)
    if relative_to is not None:
        found = relative_to.sibling(text)
        if found is not None:
            return found
    path = Path(text).expanduser()
    if path.is_file():
        return _file_source(path)
    found = _bundled_source(text)
    if found is not None:
        return found
    names = bundled_recipes()
    raise RecipeError(text, '', f'no such recipe file{suggest(text, names)}; bundled recipes: {", ".join(names)}.')


def _read(source: _Source) -> dict:
    import yaml
    from omegaconf import OmegaConf

    try:
        raw = OmegaConf.to_container(OmegaConf.load(io.StringIO(source.read())), resolve=False)
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = f'line {mark.line + 1}, column {mark.column + 1}: ' if mark else ''
        raise RecipeError(source.label, '', f'not valid YAML: {where}{getattr(e, "problem", None) or e}') from None
    except Exception as e:  # omegaconf rejects e.g. duplicate keys and non-string keys; OSError, UnicodeError
        raise RecipeError(source.label, '', f'cannot be read: {e}') from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RecipeError(source.label, '', f'the top level must be a mapping of keys, not {type(raw).__name__}.')
    return raw


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _load_with_bases(source: _Source, seen: tuple = ()) -> dict:
    if source.key in (key for key, _ in seen):
        chain = ' -> '.join(label for _, label in seen + ((source.key, source.label),))
        raise RecipeError(source.label, 'base', f'bases form a cycle: {chain}.')
    raw = _read(source)
    base = raw.pop('base', None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise RecipeError(source.label, 'base', f'{base!r} is not allowed: base must be a recipe name or path.')
    try:
        base_source = _find(base, source)
    except RecipeError as e:
        raise RecipeError(source.label, 'base', e.reason) from None
    parent = _load_with_bases(base_source, seen + ((source.key, source.label),))
    # The base's name and description describe the base's run, not this one: a child that does not set its own
    # is named after its file (a sweep, a plot title or a run name would otherwise claim to be the parent).
    parent['name'] = raw.get('name', source.stem)
    parent['description'] = raw.get('description', '')
    return _merge(parent, raw)


def _normalise(raw: dict) -> dict:
    # YAML conveniences: `schedulers:` may be one mapping, `algorithms:` empty, `max_duration:` an int (epochs).
    if isinstance(raw.get('schedulers'), dict):
        raw['schedulers'] = [raw['schedulers']]
    for k in ('schedulers', 'algorithms', 'variables'):
        if k in raw and raw[k] is None:
            raw[k] = [] if k == 'schedulers' else {}
    if isinstance(raw.get('algorithms'), dict):
        raw['algorithms'] = {k: ({} if v is None else v) for k, v in raw['algorithms'].items()}
    md = raw.get('max_duration')
    if isinstance(md, int) and not isinstance(md, bool):
        raw['max_duration'] = f'{md}ep'
    return raw


def _apply_overrides(file: str, cfg, overrides: Sequence[str]) -> list[tuple[str, str]]:
    """Apply ``key=value`` / ``~key`` items (the one grammar: :mod:`composer_sched.recipes.overrides`) to ``cfg``;
    ``(normalised key, item)`` pairs, to name the item an error comes from."""
    from omegaconf import OmegaConf

    applied = []
    for item in overrides:
        try:
            o = parse_override(item)
        except ValueError as e:
            raise RecipeError(file, '', str(e)) from None
        if o.remove:
            parent, _, leaf = o.key.replace('[', '.').replace(']', '').rpartition('.')
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if node is None or leaf not in node:
                raise RecipeError(file, o.key, f'override {item!r} removes a key the recipe does not have.')
            del node[leaf]
            applied.append((o.key, item))
            continue
        value = o.value
        if o.key == 'algorithms' or o.key.startswith('algorithms.') and o.key.count('.') == 1:
            value = {} if value is None else value
        try:
            OmegaConf.update(cfg, o.key, value, merge=True, force_add=True)
        except Exception as e:
            raise RecipeError(file, o.key, f'override {item!r} cannot be applied: {str(e).splitlines()[0]}') from None
        applied.append((o.key.replace('[', '.').replace(']', ''), item))
    return applied


def _resolve(file: str, config: Mapping, overrides: Sequence[str]) -> tuple[dict, list[tuple[str, str]]]:
    """``config`` with ``overrides`` applied and ``${...}`` resolved (pure: no file, no data)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    try:
        cfg = OmegaConf.create(_normalise(copy.deepcopy(dict(config))))
    except Exception as e:  # a value omegaconf cannot hold
        raise RecipeError(file, str(getattr(e, 'full_key', '') or ''), str(e).splitlines()[0]) from None
    applied = _apply_overrides(file, cfg, list(overrides))
    try:
        resolved = cast(dict, OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))  # cfg is a DictConfig
    except MissingMandatoryValue as e:  # `key: ???` in the file: the user must give it
        key = str(getattr(e, 'full_key', '') or '')
        raise RecipeError(file, key, f'missing: this recipe needs it, e.g. as an override {key}=...') from None
    except Exception as e:  # interpolation errors carry the key they occurred at
        key = str(getattr(e, 'full_key', '') or '')
        raise _blame(RecipeError(file, key, str(e).splitlines()[0]), applied) from None
    return _normalise(resolved), applied


def _blame(error: RecipeError, applied: Sequence[tuple[str, str]]) -> RecipeError:
    """``error`` naming the override that set its key, when one did."""
    ekey = error.key.replace('[', '.').replace(']', '')
    for key, item in applied:
        if ekey == key or ekey.startswith(key + '.') or (ekey and key.startswith(ekey + '.')):
            return RecipeError(error.file, error.key, f'{error.reason} (set by the override {item!r})')
    return error


def load_recipe(path: Union[str, os.PathLike, None] = None, overrides: Sequence[str] = ()) -> 'Recipe':
    """Load, resolve and check a recipe; nothing trains and nothing is downloaded (same as :meth:`Recipe.load`).

    Args:
        path: a YAML file, or a bundled recipe name (``'digits_cnn'``, ``'schedules/wsd'``, see
            :func:`bundled_recipes`); ``None`` is the bundled default (the small CNN on the digits).
        overrides: ``key=value`` strings applied after the file (values parsed as YAML):
            ``'max_duration=20ep'``, ``'algorithms.wsd.t_cooldown=0.3dur'``, ``'schedulers[0].alpha_f=0.1'``;
            ``'~key'`` removes a key (``'~algorithms.wsd'``).

    Returns:
        The checked :class:`Recipe`.

    Raises:
        RecipeError: (a ``ValueError``) the file is missing or not YAML, a key or name is unknown (the message
            suggests the closest valid ones), a value has the wrong type or is out of range, a schedule does not
            fit ``max_duration``, or the data cannot be read. The message names the file and the key path.

    Example:
        >>> r = load_recipe(overrides=['max_duration=2ep'])
        >>> r.max_duration
        '2ep'
    """
    return Recipe.load(path, overrides)


def _check_time(file, key: str, value: Any, units: tuple[str, ...]):
    from composer.core import Time

    try:
        t = Time.from_timestring(value) if isinstance(value, str) else None
    except (ValueError, TypeError, KeyError, OverflowError):
        t = None
    if t is None or t.unit.value not in units or not math.isfinite(float(t.value)) or t.value <= 0:
        raise RecipeError(file, key, f'{value!r} is not allowed: {key.rsplit(".", 1)[-1]} must be a positive Composer '
                          f'time string in {", ".join(units)} (e.g. \'10{units[0]}\').')
    return t


class Recipe:
    """A checked training recipe: the resolved, typed config plus builders for a Composer Trainer.

    Construction is pure: ``Recipe(config)`` resolves and checks a mapping (keys, names, types, ranges, every
    component's arguments) without reading a file or any data. :meth:`load` (the same as :func:`load_recipe`) reads
    a file (its bases merged) and then runs :meth:`check`, which reads the data and runs the schedules over the
    run. Building is lazy and repeatable: each :meth:`build_trainer` call makes a fresh model, optimizer,
    schedulers and algorithms (the datasets are read once and shared).

    Args:
        config: the recipe as a mapping (what a recipe file holds; ``base:`` is a file feature, see :meth:`load`).
        path: the file it came from, named in errors (default ``'<mapping>'``).
        overrides: ``key=value`` / ``~key`` items applied to ``config`` (:mod:`composer_sched.recipes.overrides`).

    Attributes:
        path: the recipe file (``'<mapping>'`` for a recipe made from a mapping).
        config: the resolved, typed, read-only omegaconf config (:class:`~composer_sched.recipes.schema.RecipeConfig`).
        overrides: the ``key=value`` overrides applied.

    Raises:
        RecipeError: from the constructor, for any invalid value (see :func:`load_recipe`).

    Example:
        >>> r = Recipe({'max_duration': '2ep', 'model': {'name': 'digits_cnn'}, 'data': {'name': 'digits'},
        ...             'optimizer': {'name': 'sgd', 'lr': 0.1}, 'schedulers': [{'name': 'cosine_annealing'}]},
        ...            overrides=['optimizer.lr=0.05'])
        >>> r.lr, r.path
        (0.05, '<mapping>')
        >>> r.check().dataloader_len  # reads the digits: 1437 training images in batches of 64
        22
    """

    def __init__(self, config: Mapping, *, path: Union[str, os.PathLike, None] = None,
                 overrides: Sequence[str] = ()):
        if not isinstance(config, Mapping):
            raise RecipeError(str(path or '<mapping>'), '', f'the recipe must be a mapping of keys, not '
                              f'{type(config).__name__}.')
        self.path = '<mapping>' if path is None else os.fspath(path)
        self.overrides = tuple(overrides)
        self._raw = copy.deepcopy(dict(config))
        self._datasets = None
        resolved, self._applied = _resolve(self.path, self._raw, self.overrides)
        try:
            self._validate(resolved)
        except RecipeError as e:
            raise _blame(e, self._applied) from None

    @classmethod
    def load(cls, path: Union[str, os.PathLike, None] = None, overrides: Sequence[str] = ()) -> 'Recipe':
        """Read a recipe file or bundled recipe (``None``: the default), build it and :meth:`check` it; see
        :func:`load_recipe`.

        Raises:
            RecipeError: see :func:`load_recipe`.
        """
        source = _find(path if path is not None else DEFAULT_RECIPE)
        return cls(_load_with_bases(source), path=source.label, overrides=overrides).check()

    def check(self) -> 'Recipe':
        """The checks that need the data: read it (so a missing data path fails now, with its key), and run every
        schedule over the whole run (durations that do not fit ``max_duration``). Returns ``self``.

        Raises:
            RecipeError: the data cannot be read, or a schedule or algorithm fails over this run.
        """
        try:
            self._check_splits()
            self._check_schedule()
        except RecipeError as e:
            raise _blame(e, self._applied) from None
        return self

    def _check_splits(self) -> None:
        """The data's sizes against the recipe: a training split with no sample, and (evaluation on) a validation
        split with none, are refused at the key that sizes them (an empty validation split would report an
        accuracy of 0 for every run of a sweep)."""
        from composer.utils import dist

        train, val = self.datasets()
        data = self.config.data
        split_key = next((f'data.{k}' for k in ('val_fraction', 'path') if k in data), 'data')
        if len(train) == 0:
            given = f' with {split_key}={data.get(split_key[5:])!r}' if split_key != 'data' else ''
            raise RecipeError(self.path, split_key, f'the training split is empty (the dataset {data.name!r} gives '
                              f'0 training samples{given}); give the training split some data.')
        if self.config.eval.enabled and len(val) < dist.get_world_size():
            raise RecipeError(self.path, split_key, f'the validation split has {len(val)} sample(s) for '
                              f'{dist.get_world_size()} process(es): evaluation would score nothing; hold out more '
                              'data, or set eval.enabled=false.')

    def _validate(self, resolved: dict) -> None:
        from omegaconf import OmegaConf

        file = self.path
        for k in REQUIRED_KEYS:
            if k not in resolved:
                raise RecipeError(file, k, f'missing: every recipe sets {", ".join(REQUIRED_KEYS)} (directly or '
                                  'through base: <recipe>).')
        typed: RecipeConfig = check_section(file, '', RecipeConfig, resolved)
        if typed.seed < 0:
            raise RecipeError(file, 'seed', f'{typed.seed!r} is not allowed: seed must be >= 0.')
        if typed.device not in DEVICES:
            raise RecipeError(file, 'device', f'{typed.device!r} is not allowed{suggest(typed.device, DEVICES)}; '
                              f'devices: {", ".join(DEVICES)}.')
        _check_time(file, 'max_duration', typed.max_duration, _TIME_UNITS)
        try:
            check_ratio('scale_schedule_ratio', typed.scale_schedule_ratio)
        except ValueError as e:
            raise RecipeError(file, 'scale_schedule_ratio', str(e)) from None
        if typed.eval.enabled:
            _check_time(file, 'eval.interval', typed.eval.interval, _TIME_UNITS + ('dur',))
        for key, v in (('train_subset_num_batches', typed.train_subset_num_batches),
                       ('eval.subset_num_batches', typed.eval.subset_num_batches)):
            if v != -1 and v < 1:
                raise RecipeError(file, key, f'{v!r} is not allowed: {key} must be -1 (all) or >= 1.')
        _check_checkpointing(file, typed)
        try:
            self.config = OmegaConf.structured(typed)
        except Exception as e:  # a value omegaconf cannot hold: report it without omegaconf's internals
            key = str(getattr(e, 'full_key', '') or '')
            raise RecipeError(file, key, str(e).splitlines()[0]) from None
        OmegaConf.set_readonly(self.config, True)
        # Check every component now, so a bad value never surfaces mid-training.
        C.model_builder(file, dict(typed.model))
        C.data_builder(file, dict(typed.data))
        C.check_model_fits_data(file, dict(typed.model), dict(typed.data))
        C.build_optimizer(file, dict(typed.optimizer))
        self.build_schedulers()
        self.build_algorithms()
        C.build_loggers(file, typed.loggers, construct=False)

    # ----------------------------------------------------------------------------------------------- basics
    def __repr__(self) -> str:
        return f'Recipe({self.path!r}{", overrides=" + repr(list(self.overrides)) if self.overrides else ""})'

    @property
    def max_duration(self) -> str:
        """The unscaled training length, a Composer time string (``'6ep'``)."""
        return self.config.max_duration

    @property
    def scale_schedule_ratio(self) -> float:
        return float(self.config.scale_schedule_ratio)

    @property
    def lr(self) -> float:
        """The optimizer's peak learning rate (the schedules multiply it)."""
        return float(self.config.optimizer['lr'])

    def to_yaml(self) -> str:
        """The resolved recipe as YAML (loading it again gives the same recipe)."""
        from omegaconf import OmegaConf

        return OmegaConf.to_yaml(self.config)

    def to_dict(self) -> dict:
        """The resolved recipe as plain Python containers."""
        from omegaconf import OmegaConf

        return cast(dict, OmegaConf.to_container(self.config))  # a DictConfig converts to a dict

    def with_overrides(self, overrides: Sequence[str]) -> 'Recipe':
        """The same recipe with more ``key=value`` overrides (after this recipe's own), checked.

        Example:
            >>> half = load_recipe().with_overrides(['scale_schedule_ratio=0.5'])
            >>> half.scale_schedule_ratio
            0.5
        """
        return type(self)(self._raw, path=self.path, overrides=self.overrides + tuple(overrides)).check()

    # ----------------------------------------------------------------------------------------------- data
    def datasets(self):
        """``(train, val)`` datasets, read once (so a missing data path fails at load time, with its key)."""
        if self._datasets is None:
            fn, kwargs, _ = C.data_builder(self.path, dict(self.config.data))
            try:
                self._datasets = fn(**kwargs)
            except (ValueError, OSError) as e:
                k = C.key_of_message(str(e), kwargs)
                raise RecipeError(self.path, f'data.{k}' if k else 'data', str(e)) from None
        return self._datasets

    def build_dataloaders(self):
        """Fresh ``(train, val)`` dataloaders (Composer's distributed samplers: each rank gets its share)."""
        from composer_sched.data import make_dataloaders

        _, _, loader = C.data_builder(self.path, dict(self.config.data))
        train, val = self.datasets()
        return make_dataloaders(train, val, seed=self.config.seed, **loader)

    @property
    def dataloader_len(self) -> int:
        """Training batches per epoch on this rank, as the Trainer counts them (``train_subset_num_batches``
        included).

        Raises:
            RecipeError: the training set gives no full batch.
        """
        if getattr(self, '_dl_len', None) is None:
            n = len(self.build_dataloaders()[0])
            if n == 0:
                raise RecipeError(self.path, 'data.batch_size', f'{self.config.data.get("batch_size")!r} is larger '
                                  'than the training set on this rank: no batch to train on.')
            sub = self.config.train_subset_num_batches
            self._dl_len = n if sub == -1 else min(n, sub)
        return self._dl_len

    # ----------------------------------------------------------------------------------------------- components
    def build_model(self):
        """A fresh model (seeded from the recipe's seed, so every rank and every call starts the same)."""
        from composer.utils import reproducibility

        reproducibility.seed_all(self.config.seed)
        fn, kwargs = C.model_builder(self.path, dict(self.config.model))
        try:
            return fn(**kwargs)
        except (ValueError, TypeError, RuntimeError) as e:  # torch's own errors for impossible shapes included
            k = C.key_of_message(str(e), kwargs)
            raise RecipeError(self.path, f'model.{k}' if k else 'model', str(e)) from None

    def build_optimizer(self, model):
        return C.build_optimizer(self.path, _plain(self.config.optimizer), model.parameters())

    def build_schedulers(self) -> list:
        """Fresh Composer schedulers, in recipe order: the factors of the schedule (see :meth:`build_schedule`)."""
        lr = _plain(self.config.optimizer).get('lr')  # a peer's absolute LRs (lr_end, min_lr) are fractions of it
        return [C.build_scheduler(self.path, f'schedulers[{i}]', _plain(item), base_lr=lr)
                for i, item in enumerate(self.config.schedulers)]

    def build_schedule(self) -> list:
        """The schedulers the run trains with: several multiply, the package's one rule, so they are given to the
        Trainer as one :class:`~composer_sched.adapters.product.ProductScheduler` (Composer's own
        ``Trainer(schedulers=[a, b])`` would let the last one decide); zero or one as they are. The preview, the
        run and a sweep's runs all use this.

        Example:
            >>> r = load_recipe(overrides=['schedulers=[{name: wsd}, {name: composer.multi_step, milestones: [2ep]}]'])
            >>> [type(s).__name__ for s in r.build_schedule()]
            ['ProductScheduler']
        """
        from composer_sched.adapters.product import ProductScheduler

        factors = self.build_schedulers()
        return [ProductScheduler(*factors)] if len(factors) > 1 else factors

    def build_algorithms(self) -> list:
        """Fresh algorithm objects, in recipe order."""
        return [C.build_algorithm(self.path, name, _plain(kwargs)) for name, kwargs in self.config.algorithms.items()]

    def build_loggers(self) -> list:
        return C.build_loggers(self.path, self.config.loggers)

    def build_callbacks(self) -> list:
        from composer.callbacks import LRMonitor
        from composer.core import Callback

        from composer_sched.recipes.checkpoints import RecipeStamp

        callbacks: list[Callback] = [LRMonitor()] if self.config.loggers.lr_monitor else []
        # Every checkpoint the Trainer writes carries what it continues: read back by content, not by name.
        callbacks.append(RecipeStamp(self.fingerprint()))
        meta = getattr(self.datasets()[0], 'metadata', None)  # e.g. the text corpus's SHA-256 (text_data.py)
        if meta:
            from composer_sched.text_data import LogMetadata
            callbacks.append(LogMetadata(meta))
        return callbacks

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of this recipe's run must match to be continued by it: every key but the duration
        and cosmetic ones, flattened, with the optimizer as built and the data's identity
        (:func:`~composer_sched.recipes.checkpoints.recipe_fingerprint`); computed once."""
        if getattr(self, '_fingerprint', None) is None:
            from composer_sched.recipes.checkpoints import recipe_fingerprint

            self._fingerprint = recipe_fingerprint(self)
        return dict(self._fingerprint)

    def build_trainer(self, *, progress_every: Optional[int] = None, with_loggers: bool = True, **trainer_kwargs: Any):
        """A Composer ``Trainer`` for this recipe (not yet fitted).

        ``scale_schedule_ratio`` with no Trainer schedulers (an algorithm sets the schedule, or AutoWU, or none)
        is what Composer refuses (``scale_schedule_ratio`` without ``schedulers``); it is applied the same way by a
        ``ScaleSchedule`` algorithm (schedule algorithms) or by scaling ``max_duration`` (no schedule to dilate).

        Progress: with ``progress_bar`` on, Composer's progress bar when stderr is a terminal, else a line every
        ``progress_every`` batches (:class:`~composer_sched.recipes.progress.ProgressLines`; default about 20
        lines per run), so a log is not flooded by the bar's redraws.

        Args:
            progress_every: batches between progress lines when not on a terminal, ``>= 1`` (default: auto).
            **trainer_kwargs: any ``Trainer`` argument; it overrides the recipe's (``run_name``, ``save_folder``,
                ``load_path``, ``max_duration``, ...), except ``callbacks`` and ``loggers``, which are added to the
                recipe's (the LR monitor and the configured loggers stay).
            with_loggers: ``False`` leaves the recipe's configured loggers out (a check that builds the Trainer
                must not open tracker runs).

        Raises:
            RecipeError: a component cannot be built (e.g. a model argument its constructor rejects).

        Example:
            >>> trainer = load_recipe(overrides=['max_duration=2ep']).build_trainer(progress_bar=False)
            >>> trainer.fit()  # doctest: +SKIP
        """
        from composer import Trainer

        from composer_sched.recipes.progress import ProgressLines, auto_interval, is_terminal

        c = self.config
        model = self.build_model()
        train_dl, val_dl = self.build_dataloaders()
        kwargs: dict[str, Any] = dict(
            model=model, train_dataloader=train_dl, max_duration=c.max_duration,
            optimizers=self.build_optimizer(model), schedulers=self.build_schedule(),
            algorithms=self.build_algorithms(), scale_schedule_ratio=self.scale_schedule_ratio,
            train_subset_num_batches=c.train_subset_num_batches, seed=c.seed, device=c.device,
            progress_bar=c.progress_bar and c.loggers.console is None, run_name=c.run_name,
        )
        kwargs.update(_checkpointing_kwargs(c))
        if c.eval.enabled:
            kwargs.update(eval_dataloader=val_dl, eval_interval=c.eval.interval,
                          eval_subset_num_batches=c.eval.subset_num_batches)
        if c.loggers.console is not None:
            kwargs.update(log_to_console=True, console_log_interval=c.loggers.console.get('log_interval', '1ep'))
        extra_cb = trainer_kwargs.pop('callbacks', None) or []
        extra_lg = trainer_kwargs.pop('loggers', None) or []
        kwargs['callbacks'] = self.build_callbacks() + list(extra_cb if isinstance(extra_cb, (list, tuple)) else
                                                            [extra_cb])
        extra_lg = list(extra_lg if isinstance(extra_lg, (list, tuple)) else [extra_lg])
        kwargs['loggers'] = (self.build_loggers() if with_loggers else []) + extra_lg
        kwargs.update(trainer_kwargs)
        _scale_without_schedulers(self.path, kwargs)
        if kwargs.get('progress_bar') and not is_terminal():
            kwargs['progress_bar'] = False
            every = progress_every or auto_interval(self._total_batches(kwargs['max_duration']))
            kwargs['callbacks'] = list(kwargs['callbacks']) + [ProgressLines(every)]
        return Trainer(**kwargs)

    def _total_batches(self, max_duration: Any) -> int:
        from composer_sched.adapters.durations import num_batches, scaled_max_duration

        try:
            md = scaled_max_duration(max_duration, 1.0)
            return num_batches(md, self.dataloader_len, self._samples_per_batch())
        except (ValueError, TypeError):  # tokens: unknown ahead
            return 1000

    def check_trainer(self) -> None:
        """Build everything training builds (model, optimizer, dataloaders, schedulers, algorithms and the
        ``Trainer``), run the model on one training and one validation batch (no step), and drop it, so a dry run
        meets every error training would meet before and at its first batch.

        Raises:
            RecipeError: a component or the ``Trainer`` rejects the recipe (the message names the key when it can).
        """
        if self.config.device == 'gpu':
            import torch

            if not torch.cuda.is_available():
                raise RecipeError(self.path, 'device', "'gpu' is not available on this machine (torch finds no CUDA "
                                  "device): train it where there is one, or override device=cpu to run it here.")
        try:
            trainer = self.build_trainer(progress_bar=False, with_loggers=False)  # no tracker run for a check
        except RecipeError:
            raise
        except (ValueError, TypeError, RuntimeError) as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RecipeError(self.path, _trainer_key(text), f'Composer\'s Trainer refuses this recipe: {text}') \
                from None
        try:
            self._check_one_batch(trainer)
        finally:
            trainer.close()

    def _check_one_batch(self, trainer) -> None:
        """The model's forward pass and loss on the first training batch, and on the first validation batch its
        eval forward (no gradient, no optimizer step, eval mode: nothing of the run changes), so a model and data
        that cannot go together fail the dry run, not the first batch of training.

        Raises:
            RecipeError: at ``model`` (the message says it fails on the recipe's data).
        """
        import torch
        from torch.nn.parallel import DistributedDataParallel

        state = trainer.state
        model = state.model  # under several processes its DDP wrapper: check the module (no collective needed)
        model = model.module if isinstance(model, DistributedDataParallel) else model
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad():
                for loader in (state.dataloader, self.build_dataloaders()[1]):
                    batch = state.device.batch_to_device(next(iter(loader)))
                    outputs = model(batch)
                    if loader is state.dataloader:
                        model.loss(outputs, batch)
        except StopIteration:
            return  # an empty split is reported by the loaders' own checks
        except (ValueError, TypeError, RuntimeError, IndexError, KeyError, AttributeError) as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RecipeError(self.path, 'model', f'{self.config.model.name!r} fails on the first batch of '
                              f'{self.config.data.name!r} ({type(e).__name__}: {text}); check the model\'s '
                              'arguments against the data\'s.') from None
        finally:
            model.train(was_training)

    # ----------------------------------------------------------------------------------------------- schedule
    def preview(self, scale_schedule_ratio: Optional[float] = None) -> np.ndarray:
        """The LR multiplier of every batch the recipe's run applies (times ``optimizer.lr`` gives the LR), via
        :func:`composer_sched.previewing.preview`; algorithms included.

        A loss-driven schedule (AutoWU) is not known before training: this is then the run whose loss never
        triggers an early switch (the warm-up to its cap, then the decay), as multipliers of ``optimizer.lr``;
        :meth:`outlook` has the rest (and :attr:`loss_driven` says so).

        Args:
            scale_schedule_ratio: preview another ratio (default: the recipe's).
        """
        from composer_sched.previewing import preview

        ssr = self.scale_schedule_ratio if scale_schedule_ratio is None else scale_schedule_ratio
        outlook = self.outlook(ssr)
        if outlook is not None:
            return outlook.latest / self.lr
        return preview(self.build_schedule(), self.max_duration, dataloader_len=self.dataloader_len, ssr=ssr,
                       samples_per_batch=self._samples_per_batch(), algorithms=self.build_algorithms())

    @property
    def loss_driven(self) -> list[str]:
        """Names of the recipe's algorithms whose LR depends on the training loss (AutoWU): their schedule is
        only partly known before training (:meth:`outlook`)."""
        from composer_sched.algorithms.autowu import AutoWU

        return [n for n, a in zip(self.config.algorithms, self.build_algorithms()) if isinstance(a, AutoWU)]

    def outlook(self, scale_schedule_ratio: Optional[float] = None):
        """What is known before training about a loss-driven schedule (AutoWU): the warm-up ramp up to its cap and
        the decays that may follow (:class:`~composer_sched.previewing.Outlook`), or ``None`` when the recipe's
        schedule does not depend on the loss."""
        from composer_sched.adapters.durations import num_batches, scaled_max_duration
        from composer_sched.algorithms.autowu import AutoWU
        from composer_sched.previewing import autowu_outlook

        algos = [a for a in self.build_algorithms() if isinstance(a, AutoWU)]
        if not algos:
            return None
        ssr = self.scale_schedule_ratio if scale_schedule_ratio is None else scale_schedule_ratio
        md = scaled_max_duration(self.max_duration, ssr)
        n = num_batches(md, self.dataloader_len, self._samples_per_batch())
        return autowu_outlook(algos[0], n, self.dataloader_len)

    def _samples_per_batch(self) -> int:
        # Composer counts samples over all ranks.
        from composer.utils import dist

        return int(self.config.data.get('batch_size', C.LOADER_KEYS['batch_size'])) * dist.get_world_size()

    def _check_schedule(self) -> None:
        # Durations that do not fit max_duration only show once the horizon is known: check them now, by running
        # every scheduler over the whole run (Composer's own schedulers take their arguments unchecked).
        from composer_sched.previewing import preview

        dl_len = self.dataloader_len
        for i, (item, s) in enumerate(zip(self.config.schedulers, self.build_schedulers())):
            try:
                preview(s, self.max_duration, dataloader_len=dl_len, ssr=self.scale_schedule_ratio,
                        samples_per_batch=self._samples_per_batch())
            except _RUN_ERRORS as e:
                raise self._schedule_error(f'schedulers[{i}]', _plain(item), e) from None
        try:
            self.preview()
        except RecipeError:
            raise
        except _RUN_ERRORS as e:
            if 'ssr' in str(e):
                raise RecipeError(self.path, 'scale_schedule_ratio', str(e)) from None
            raise self._algorithm_error(e) from None

    def _schedule_error(self, key: str, item: dict, error: Exception) -> RecipeError:
        """A scheduler that fails over this run, as an error at its key (and argument, when the message names
        one)."""
        params = {k: v for k, v in item.items() if k != 'name'}
        text = str(error).splitlines()[0] if str(error) else ''
        k = C.key_of_message(text, params)
        if isinstance(error, ValueError):
            return RecipeError(self.path, f'{key}.{k}' if k else key, _strip_method(text, item.get('name')))
        args = ', '.join(f'{n}={v!r}' for n, v in params.items()) or 'its defaults'
        return RecipeError(self.path, f'{key}.{k}' if k else key,
                           f'scheduler {item.get("name")!r} with {args} fails on this run of {self.max_duration} '
                           f'({type(error).__name__}: {text}); check that its durations are > 0 and fit the run.')

    def _algorithm_error(self, error: Exception) -> RecipeError:
        """An algorithm's schedule that fails over this run, at ``algorithms.<name>[.<argument>]``: the culprit is
        found by previewing the recipe's algorithms one at a time."""
        from composer_sched.previewing import preview

        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        names = list(self.config.algorithms)
        culprit = None
        if len(names) == 1:
            culprit = names[0]
        else:
            for name, algo in zip(names, self.build_algorithms()):
                try:
                    preview(self.build_schedule(), self.max_duration, dataloader_len=self.dataloader_len,
                            ssr=self.scale_schedule_ratio, samples_per_batch=self._samples_per_batch(),
                            algorithms=[algo])
                except _RUN_ERRORS:
                    culprit = name
                    break
        if culprit is None:
            return RecipeError(self.path, 'algorithms', _strip_method(text, None))
        kwargs = _plain(self.config.algorithms[culprit])
        k = C.key_of_message(text, kwargs) or C.key_of_message(text, C._params(C.algorithm_class(culprit)))
        key = f'algorithms.{culprit}' + (f'.{k}' if k else '')
        reason = _strip_method(text, culprit)
        if not isinstance(error, ValueError):
            reason = f'{type(error).__name__}: {reason}'
        return RecipeError(self.path, key, reason)

    def key_points(self, max_points: int = 14) -> list[tuple[int, float]]:
        """``(batch, multiplier)`` at the start, the end, the ends of flat stretches, where the slope changes and
        evenly in between: sorted by batch, each batch once, and no row inside a flat stretch (whose neighbours
        already show its value)."""
        return key_points(self.preview(), max_points)

    def plot(self, path: Union[str, os.PathLike], ratios: Sequence[float] = ()) -> str:
        """Write a PNG of the LR per batch (one curve per ``ratios`` entry; default: the recipe's ratio).

        A loss-driven schedule (AutoWU) is drawn as what is known before training: the warm-up ramp up to its cap
        (solid) and the decays after a few possible switches (dashed), titled as depending on the loss.
        """
        from composer_sched.previewing import write_curves

        title = self.config.name or Path(self.path).stem
        outlook = self.outlook()
        if outlook is not None:
            curves = [('warm-up ramp (known)', outlook.ramp)]
            curves += [(f'switch at {s}, lr {lr:.3g}', lrs) for s, lr, lrs in outlook.decays]
            return write_curves(curves, path, xlabel=f'batch ({self.dataloader_len} per epoch)',
                                ylabel='learning rate', title=f'{title}: the switch depends on the loss; '
                                'possible decays dashed', styles=['-'] + ['--'] * len(outlook.decays))
        curves = [(f'ratio {r:g}', self.preview(scale_schedule_ratio=r) * self.lr)
                  for r in (ratios or (self.scale_schedule_ratio,))]
        return write_curves(curves, path, xlabel=f'batch ({self.dataloader_len} per epoch)', ylabel='learning rate',
                            title=title)


def key_points(values: np.ndarray, max_points: int = 14) -> list[tuple[int, float]]:
    """The rows of a schedule table (see :meth:`Recipe.key_points`): the batches that, joined by straight lines,
    draw the schedule best (greedy Ramer-Douglas-Peucker: start from the first and last batch, add the batch
    farthest from the line through the chosen ones until ``max_points`` or within 0.5% of the range).

    Sorted by batch, each batch once; a flat stretch shows only its ends, a step both of its sides.

    Example:
        >>> key_points(np.array([1.0, 1, 1, 1, 1, 0.5, 0.0]))
        [(0, 1.0), (4, 1.0), (6, 0.0)]
    """
    import bisect

    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return []
    chosen = sorted({0, n - 1})
    span = float(np.ptp(v))
    x = np.arange(n)
    while len(chosen) < max(2, max_points) and span > 0:
        err = np.abs(v - np.interp(x, chosen, v[chosen]))
        k = int(np.argmax(err))
        if err[k] <= 0.005 * span:
            break
        bisect.insort(chosen, k)
    return [(int(k), float(v[k])) for k in chosen]


#: what a schedule can raise when run over a horizon it cannot handle (Composer's schedulers check nothing)
_RUN_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError, AttributeError)


def _strip_method(text: str, own: Optional[str]) -> str:
    """Drop an internal schedule's name and repr before the message (``'constant: t_warmup=...'`` for a Warmup,
    ``'Cooldown(t_start=...): the cool-down ...'``): the key path already says where the error is."""
    import re

    from composer_sched.schedules.registry import method_names

    m = re.match(r'^([A-Za-z_]\w*)(\((?:[^()]|\([^()]*\))*\))?: ', text)
    if m and (m.group(2) or m.group(1) in method_names() or m.group(1) == own):
        return text[m.end():]
    return text


def _trainer_key(text: str) -> str:
    # The recipe key a Trainer error is about, when its message names a Trainer argument the recipe sets.
    for arg, key in (('scale_schedule_ratio', 'scale_schedule_ratio'), ('max_duration', 'max_duration'),
                     ('eval_interval', 'eval.interval'), ('device', 'device'), ('schedulers', 'schedulers'),
                     ('algorithms', 'algorithms'), ('optimizer', 'optimizer'), ('model', 'model')):
        if arg in text:
            return key
    return ''


def _scale_without_schedulers(file: str, kwargs: dict) -> None:
    """Apply a ``scale_schedule_ratio`` the Trainer would refuse (no ``schedulers``) the way it would have acted:
    a ``ScaleSchedule`` algorithm when composer_sched schedule algorithms set the schedule (composed with one the
    run already has), else ``max_duration`` scaled (AutoWU, or a constant LR: nothing to dilate)."""
    ssr = float(kwargs.get('scale_schedule_ratio', 1.0) or 1.0)
    if ssr == 1.0 or kwargs.get('schedulers'):
        return
    from composer_sched.adapters.durations import scaled_max_duration
    from composer_sched.algorithms.roles import ScheduleAlgorithm
    from composer_sched.algorithms.scale_schedule import ScaleSchedule

    algos = list(kwargs.get('algorithms') or [])
    scales = [a for a in algos if isinstance(a, ScaleSchedule)]
    if scales:  # compose: the run's own ratio times this one
        first = scales[0]
        algos[algos.index(first)] = ScaleSchedule(ratio=first.ratio * ssr, method=first.method)
    elif any(isinstance(a, ScheduleAlgorithm) for a in algos):
        algos.append(ScaleSchedule(ratio=ssr))
    else:
        kwargs['max_duration'] = scaled_max_duration(kwargs['max_duration'], ssr)
    kwargs['algorithms'] = algos
    kwargs['scale_schedule_ratio'] = 1.0


def _plain(node) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(node) if isinstance(node, (DictConfig, ListConfig)) else node


#: The recipe keys that are Composer's checkpointing arguments (passed to the Trainer under the same names).
CHECKPOINT_KEYS = ('save_folder', 'save_interval', 'save_num_checkpoints_to_keep', 'save_overwrite', 'load_path',
                   'load_weights_only', 'load_ignore_keys', 'autoresume')


def _check_checkpointing(file: str, typed: RecipeConfig) -> None:
    """Check the checkpointing keys at load time, with Composer's own rules said in the recipe's words.

    Raises:
        RecipeError: a bad ``save_interval``, a negative ``save_num_checkpoints_to_keep`` other than -1, an empty
            path, a local ``load_path`` that is not a file, or ``autoresume`` without ``save_folder`` and
            ``run_name``.
    """
    if typed.save_folder is not None and not typed.save_folder.strip():
        raise RecipeError(file, 'save_folder', "'' is not allowed: give a folder (or null: no checkpoints).")
    _check_time(file, 'save_interval', typed.save_interval, ('ep', 'ba', 'sp', 'tok', 'dur'))
    k = typed.save_num_checkpoints_to_keep
    if k < -1:
        raise RecipeError(file, 'save_num_checkpoints_to_keep', f'{k!r} is not allowed: give -1 (keep all), 0 (keep '
                          'only the latest symlink target) or a count >= 1.')
    if typed.load_path is not None:
        lp = typed.load_path
        if not lp.strip():
            raise RecipeError(file, 'load_path', "'' is not allowed: give a checkpoint (or null).")
        if '://' not in lp and '{' not in lp and not os.path.isfile(os.path.expanduser(lp)):
            raise RecipeError(file, 'load_path', f'{lp!r} is not allowed: there is no such file (give a Composer '
                              'checkpoint, e.g. one a save_folder holds).')
    if typed.load_ignore_keys is not None and not all(isinstance(x, str) for x in typed.load_ignore_keys):
        raise RecipeError(file, 'load_ignore_keys', f'{typed.load_ignore_keys!r} is not allowed: give a list of key '
                          "paths (strings, e.g. 'state/optimizers').")
    if typed.extend is not None:
        _check_extend(file, typed.extend)
    if typed.autoresume and (typed.save_folder is None or not typed.run_name):
        missing = ' and '.join(k for k, v in (('save_folder', typed.save_folder), ('run_name', typed.run_name))
                               if not v)
        raise RecipeError(file, 'autoresume', f'true is not allowed without {missing}: Composer resumes from '
                          'save_folder, under the run name (give both).')


def _checkpointing_kwargs(c: Any) -> dict[str, Any]:
    """The Trainer arguments of the recipe's checkpointing keys (only those that are set: Composer's defaults
    otherwise)."""
    out: dict[str, Any] = {}
    if c.save_folder is not None:
        out.update(save_folder=os.path.expanduser(c.save_folder), save_interval=c.save_interval,
                   save_num_checkpoints_to_keep=int(c.save_num_checkpoints_to_keep),
                   save_overwrite=bool(c.save_overwrite))
    if c.load_path is not None:
        out.update(load_path=os.path.expanduser(c.load_path), load_weights_only=bool(c.load_weights_only))
        if c.load_ignore_keys is not None:
            out['load_ignore_keys'] = list(c.load_ignore_keys)
    if c.autoresume:
        out['autoresume'] = True
    return out


def _check_extend(file: str, extend: dict) -> None:
    """Check ``extend: {from, ratio, peak, rewarm}`` (the checkpoint itself is read when training starts).

    Raises:
        RecipeError: an unknown key, a missing ``from`` or ``ratio``, ``ratio <= 1``, ``peak <= 0`` or a
            ``rewarm`` that is not an integer >= 1.
    """
    keys = ('from', 'ratio', 'peak', 'rewarm')
    for k in extend:
        if k not in keys:
            raise RecipeError(file, f'extend.{k}', f'unknown key{suggest(str(k), keys)}; valid keys of extend: '
                              f'{", ".join(keys)}.')
    src = extend.get('from')
    if not isinstance(src, str) or not src.strip():
        raise RecipeError(file, 'extend.from', f'{src!r} is not allowed: give the checkpoint to continue (a path).')
    ratio = extend.get('ratio')
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or not ratio > 1:
        raise RecipeError(file, 'extend.ratio', f'{ratio!r} is not allowed: give the new budget as a multiple of '
                          'max_duration, a number > 1.')
    peak = extend.get('peak')
    if peak is not None and (isinstance(peak, bool) or not isinstance(peak, (int, float)) or not math.isfinite(peak)
                             or not peak > 0):
        raise RecipeError(file, 'extend.peak', f'{peak!r} is not allowed: give the re-warm\'s peak as a multiple of '
                          'optimizer.lr, a number > 0 (or leave it out: chosen).')
    rewarm = extend.get('rewarm')
    if rewarm is not None and (isinstance(rewarm, bool) or not isinstance(rewarm, int) or rewarm < 1):
        raise RecipeError(file, 'extend.rewarm', f'{rewarm!r} is not allowed: give the re-warm\'s length in batches, '
                          'an integer >= 1 (or leave it out: chosen).')
