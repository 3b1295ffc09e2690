"""The README's composition table shows what the code produces: each row's code, run here, gives the row's numbers
(read from README.md itself, not from the generator that wrote them)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import composer_sched
from composer_sched.algorithms.cooldown import cooldown
from composer_sched.algorithms.warmup import warmup

README = Path(__file__).resolve().parents[1] / 'README.md'


def _rows() -> list[tuple[str, str, list[float | None], list[int]]]:
    text = README.read_text()
    block = text[text.index('<!-- BEGIN make gen: composition table'):text.index('<!-- END make gen: composition')]
    lines = [ln for ln in block.splitlines() if ln.startswith('|')]
    batches = [int(b) for b in re.findall(r'\d+', lines[0].split('multiplier at batch', 1)[1])]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip('|').split(' | ')]
        values = [None if v.strip() == '-' else float(v) for v in cells[-1].split(',')]
        rows.append((cells[0], cells[1].strip('`'), values, batches))
    return rows


def test_the_table_has_every_mechanism():
    names = ' '.join(r[0] for r in _rows())
    for mechanism in ('t_warmup', 'core wrapper', 'modifier algorithm', 'functional modifier', 'ProductScheduler',
                      'Cooldown', 'ScaleSchedule'):
        assert mechanism in names


@pytest.mark.parametrize('row', _rows(), ids=lambda r: r[0])
def test_each_rows_code_gives_its_numbers(row):
    _, code, values, batches = row
    ns = {n: getattr(composer_sched, n) for n in composer_sched.__all__}
    ns.update(np=np, warmup=warmup, cooldown=cooldown)
    curve = np.asarray(eval(code, ns), dtype=float)  # noqa: S307 (the README's own example)
    got = [round(float(curve[b]), 3) if b < len(curve) else None for b in batches]
    assert got == values


def test_shifting_and_multiplying_differ_as_the_table_says():
    # The point of the table: a method's own t_warmup shifts the cosine to [W, T], a modifier multiplies a ramp
    # into a cosine over [0, T]; the modifier, its functional form and the product agree exactly.
    rows = {r[0]: r[2] for r in _rows()}
    shifted, multiplied = rows["a method's own `t_warmup`"], rows['modifier algorithm']
    assert shifted != multiplied
    assert multiplied == rows['functional modifier'] == rows['`ProductScheduler`']
