"""Benchmarks: heavy measurements, never part of `make test` (see README.md)."""
