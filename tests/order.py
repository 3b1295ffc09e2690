"""How tests/conftest.py orders the collection for pytest-xdist's worksteal scheduler (make test: 2 workers).

worksteal hands worker ``i`` the next ``len(pending) // (workers - i)`` tests of the collection, then lets an idle
worker take the second half of another's queue, from its end. :func:`deal` cuts the collection into one block per
worker of exactly those sizes: units (a test module, or the tests sharing an expensive session fixture) go longest
first into the block with the fewest measured seconds that has room, so each block starts with its longest units and
ends with its shortest, which are what an idle worker takes at the end. A unit stays whole unless it is larger than
every block's room (then it fills blocks in turn).
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar('T')


def block_sizes(n: int, workers: int) -> list[int]:
    """The number of tests worksteal first sends to each of ``workers`` idle workers out of ``n``."""
    sizes = []
    for i in range(workers):
        sizes.append(n // (workers - i))
        n -= sizes[-1]
    return sizes


def deal(units: Sequence[Sequence[T]], cost: Callable[[T], float], workers: int) -> list[T]:
    """The tests of ``units`` (each in its order) reordered into ``workers`` blocks of :func:`block_sizes`, each
    block's units longest first; ``cost`` is a test's seconds."""
    sizes = block_sizes(sum(len(u) for u in units), workers)
    blocks: list[list[T]] = [[] for _ in range(workers)]
    load = [0.0] * workers

    def seconds(unit: Sequence[T]) -> float:
        return sum(cost(t) for t in unit)

    for unit in sorted(units, key=seconds, reverse=True):  # sorted is stable: equal units keep their order
        room = [b for b in range(workers) if sizes[b] - len(blocks[b]) >= len(unit)]
        if room:
            b = min(room, key=lambda b: load[b])
            blocks[b] += unit
            load[b] += seconds(unit)
            continue
        rest = list(unit)
        while rest:
            b = min((b for b in range(workers) if len(blocks[b]) < sizes[b]), key=lambda b: load[b])
            part, rest = rest[:sizes[b] - len(blocks[b])], rest[sizes[b] - len(blocks[b]):]
            blocks[b] += part
            load[b] += seconds(part)
    return [t for block in blocks for t in block]
