"""Benchmarks: each ``bench_*.py`` module has a ``main()`` that measures our code and its peer in the same run and
prints medians and ratios (machines here are noisy: read the ratios, not the absolute times)."""
