"""Benchmarks with side-by-side baselines: ``python -m bench`` writes bench/results.md."""
