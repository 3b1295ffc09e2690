"""AutoWU replay: the same loss sequences (clear minimum with noise, spike then plateau, slow drift, NaN bursts, a
NaN blow-up, the real recorded digits run) fed to our engine and to a re-statement of the reference's decision rule
(kakaobrain/autowu), switch step, reason and LR side by side. The harness is ``benchmarks/autowu_replay.py``.

``AUTOWU_REPLAY_SEEDS`` (default 1) synthetic seeds per kind of sequence.
"""
from __future__ import annotations

import os

from benchmarks import autowu_replay


def main() -> None:
    autowu_replay.main(int(os.environ.get('AUTOWU_REPLAY_SEEDS', 1)))


if __name__ == '__main__':
    main()
