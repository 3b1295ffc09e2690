"""The tiny language model's ratio sweep (issue 15): ``tinylm_wsd`` at ratios 0.25, 0.5, 0.75 and 1 with shared
trunks, one seed, one torch thread per run. Prints the sweep's table (eval cross-entropy and perplexity per ratio)
and the machine it ran on; ``composer-sched sweep tinylm_wsd --ratios 0.25,0.5,0.75,1`` is the same sweep. It
trains about 1.3 full runs (3120 batches of 8 x 64 bytes): about 3 minutes on 2 free CPU cores.
"""
from __future__ import annotations

import platform
import tempfile
import time

RATIOS = (0.25, 0.5, 0.75, 1.0)


def main() -> None:
    import os

    from composer_sched.sweep import SweepTarget, run_sweep

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_sweep(SweepTarget('tinylm_wsd'), RATIOS, 1, d, echo=lambda s: None)
        wall = time.perf_counter() - t0
    assert out.exit_code == 0, out.failed
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python '
          f'{platform.python_version()}')
    print(out.report.text())
    trained = sum(r['trained_batches'] for r in out.rows)
    print(f'whole sweep: {trained} batches trained, {wall:.0f} s wall')


if __name__ == '__main__':
    main()
