"""Runnable benchmark scripts; results in docs/benchmarks.md."""
