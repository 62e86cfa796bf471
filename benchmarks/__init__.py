"""Benchmarks (not tests): each figure measured next to its baseline in the same run. `make bench` runs them all
and writes benchmarks/RESULTS.md."""
