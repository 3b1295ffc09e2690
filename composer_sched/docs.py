"""Generate ``docs/methods/``: one page per schedule algorithm (its method card plus a PNG of its LR curve) and an
index with one table of every algorithm, its parameters and defaults, all read from the algorithm registry.

Run ``python -m composer_sched.docs [out_dir]`` (``make docs`` does). Setter plots are made by
``composer-sched plot``; a modifier is plotted over a cosine schedule with :func:`composer_sched.previewing`.
"""
from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

__all__ = ['EXAMPLES', 'generate', 'main']

#: Arguments each plot uses (plain values, as a recipe would give them).
EXAMPLES: dict[str, dict[str, Any]] = {
    'triangular': {'inc_fraction': 0.2, 'alpha_min': 0.1},
    'cosine_annealing': {'alpha_f': 0.05, 't_warmup': '50ba'},
    'one_cycle': {},
    'cyclical': {'shape': 'triangular', 't_cycle': '0.2dur', 'cycle_magnitude_decay': 0.7},
    'sgdr': {'t_0': '0.1dur', 't_mult': 2.0, 'magnitude_decay': 0.7},
    'wsd': {'t_warmup': '50ba', 't_cooldown': '0.2dur', 'decay_type': 'sqrt'},
    'inverse_sqrt': {'t_warmup': '50ba', 't_scale': '0.05dur', 't_cooldown': '0.1dur'},
    'multi_factor': {'step': ['0.5dur', '0.75dur'], 'factor': 0.3},
    'linear_warmup': {'t_warmup': '150ba'},
    'linear_cooldown': {'t_start': '0.7dur', 'shape': 'sqrt'},
}
_DURATION = '1000ba'


def _schedule_algorithms() -> dict[str, type]:
    from composer_sched.algorithms import algorithm_classes
    from composer_sched.algorithms.base import ScheduleAlgorithm

    return {n: c for n, c in algorithm_classes().items()
            if isinstance(c, type) and issubclass(c, ScheduleAlgorithm) and c.schedule_role in ('setter', 'modifier')}


def _params(cls: type) -> list[tuple[str, Any]]:
    return [(p.name, 'required' if p.default is inspect.Parameter.empty else p.default)
            for p in inspect.signature(cls).parameters.values() if p.kind != p.VAR_KEYWORD]


def _plot(name: str, cls: type, path: Path) -> None:
    params = EXAMPLES.get(name, {})
    if cls.schedule_role == 'setter':
        from composer_sched.cli import main as cli
        args = [f'{k}={v}' if not isinstance(v, list) else f'{k}=[{",".join(v)}]' for k, v in params.items()]
        code = cli(['plot', cls.method, *args, '--max-duration', _DURATION, '-o', str(path)])
        if code:
            raise RuntimeError(f'composer-sched plot {cls.method} failed with exit code {code}')
        return
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from composer_sched.adapters.composer import CosineAnnealingScheduler
    from composer_sched.previewing import preview

    inner = CosineAnnealingScheduler(alpha_f=0.1)
    algo = cls(**params)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(preview(inner, _DURATION), '--', color='0.6', label='run schedule (cosine)')
    values = preview(inner, _DURATION, algorithms=[algo])
    ax.plot(np.arange(len(values)), values, label=repr(algo))
    ax.set_xlabel('batch')
    ax.set_ylabel('LR multiplier')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _methods_table() -> str:
    """Every registered schedule method with its scheduler classes, parameters and defaults."""
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.schedules.registry import REQUIRED, class_name, methods

    rows = ['# Schedule methods', '',
            'The schedule registry (`composer-sched list`): each method is a Composer scheduler '
            '(`composer_sched.<Name>Scheduler`), a PyTorch scheduler (`ScheduleLR(optimizer, name, total_steps)`) '
            'and a recipe `schedulers:` entry. Every method also takes '
            + ', '.join(f'`{p.name}`={p.default!r}' for p in WARMUP_PARAMS) + '.', '',
            '| method | Composer scheduler | what it does | parameters (defaults) |', '|---|---|---|---|']
    for m in methods():
        params = '<br>'.join(f'`{p.name}`' + ('' if p.default is REQUIRED else f'={p.default!r}') for p in m.params)
        rows.append(f'| `{m.name}` | `{class_name(m.name, "Scheduler")}` | {m.summary} | {params} |')
    return '\n'.join(rows) + '\n'


def generate(out_dir: os.PathLike = Path('docs/methods'), plots: bool = True) -> list[Path]:
    """Write the pages, plots and index under ``out_dir``; returns the files written."""
    from composer_sched.schedules.registry import get_method

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = ['| algorithm | class | role | what it does | parameters (defaults) |', '|---|---|---|---|---|']
    for name, cls in _schedule_algorithms().items():
        card = Path(inspect.getfile(cls)).with_name('README.md')
        text = card.read_text() if card.exists() else f'# {cls.__name__}\n'
        png = out / f'{name}.png'
        if plots:
            _plot(name, cls, png)
            written.append(png)
        example = ', '.join(f'{k}={v!r}' for k, v in EXAMPLES.get(name, {}).items())
        page = out / f'{name}.md'
        page.write_text(f'<!-- generated by python -m composer_sched.docs from {card.parent.name}/README.md -->\n'
                        f'{text}\n## LR curve\n\n![{name}]({name}.png)\n\n`{cls.__name__}({example})` over '
                        f'{_DURATION}.\n')
        written.append(page)
        params = '<br>'.join(f'`{k}`={v!r}' for k, v in _params(cls))
        summary = get_method(cls.method).summary if cls.schedule_role == 'setter' else \
            (inspect.getdoc(cls) or '').splitlines()[0]
        rows.append(f'| [{name}]({name}.md) | `{cls.__name__}` | {cls.schedule_role} | {summary} | {params} |')
    index = out / 'index.md'
    index.write_text('<!-- generated by python -m composer_sched.docs: do not edit -->\n# Schedule algorithms\n\n'
                     'Every schedule method as a Composer Algorithm (`composer_sched.algorithms`). Setters install a '
                     'schedule, modifiers wrap whatever schedule the run has; the order in `algorithms=[...]` does '
                     'not matter (setter, then modifiers, then ScaleSchedule). Durations are Composer time strings.'
                     '\n\n' + '\n'.join(rows) + '\n\n' + _methods_table())
    written.append(index)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    files = generate(Path(argv[0]) if argv else Path('docs/methods'))
    print(f'wrote {len(files)} files to {files[-1].parent}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
