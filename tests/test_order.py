"""The suite's order for pytest-xdist (tests/order.py): blocks of exactly the sizes worksteal deals, balanced by the
measured seconds, longest first in each, units whole, and every test once."""
import random

from tests.order import block_sizes, deal


def test_block_sizes_are_what_worksteal_sends_each_idle_worker():
    # xdist 3.8 WorkStealingScheduling.check_schedule: num_send = len(pending) // nodes_remaining
    assert block_sizes(2254, 2) == [1127, 1127] and block_sizes(7, 2) == [3, 4] and block_sizes(10, 3) == [3, 3, 4]
    assert block_sizes(5, 1) == [5]


def test_blocks_are_balanced_longest_first_with_units_whole():
    rng = random.Random(0)
    units = [[(u, i, rng.choice([0.05, 0.05, 0.05, 2.0])) for i in range(rng.randint(1, 30))] for u in range(60)]
    units[7] = [(7, 0, 90.0)]  # a Slurm-like unit
    units[8] = [(8, i, 20.0) for i in range(3)]  # a 2-rank-launch-like unit
    order = deal(units, lambda t: t[2], 2)
    assert sorted(order) == sorted(t for u in units for t in u)  # every test once
    n = len(order) // 2
    blocks = [order[:n], order[n:]]
    assert blocks[0][0][:2] == (7, 0) and blocks[1][0][0] == 8  # the two longest units start the two blocks
    seconds = [sum(t[2] for t in b) for b in blocks]
    assert abs(seconds[0] - seconds[1]) <= 0.1 * sum(seconds)
    for block in blocks:
        per_unit = {}
        for t in block:
            per_unit.setdefault(t[0], []).append(t)
        starts = [t[0] for i, t in enumerate(block) if i == 0 or block[i - 1][0] != t[0]]
        assert len(starts) == len(set(starts))  # each unit contiguous in its block
        totals = [sum(t[2] for t in per_unit[u]) for u in starts]
        assert totals == sorted(totals, reverse=True)  # longest first
        for u, tests in per_unit.items():
            assert tests == [t for t in units[u] if t in tests]  # a unit's tests keep their order


def test_a_unit_larger_than_a_block_fills_blocks_in_turn():
    units = [[('big', i) for i in range(8)], [('small', 0)], [('small', 1)]]
    order = deal(units, lambda t: 1.0, 2)
    assert len(order) == 10 and sorted(order) == sorted(t for u in units for t in u)
    assert [t for t in order if t[0] == 'big'] == units[0]  # cut, not shuffled
