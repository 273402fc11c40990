"""`make bench`: every module here with a `run()` prints its figures.

Benchmarks print numbers; they assert nothing about speed (shared machines are noisy).
Run one with `python -m benchmarks NAME` (module name without `bench_`).
"""
