"""Benchmarks: each ``bench_*`` module prints figures as ratios against the bare libraries."""
