"""Benchmarks, library code only (their commands are in :mod:`lightning_meta.cli.bench` and
:mod:`lightning_meta.cli.bench_suite`).

- :mod:`lightning_meta.bench.perf`: speed, memory, meta-steps/s and data-pipeline benchmarks on
  synthetic workloads, and the environment record of a run;
- :mod:`lightning_meta.bench.suite`: the accuracy suite (methods x targets on identical fixed
  episodes), paired differences and the encoder comparison, on :mod:`lightning_meta.evaluation`.
"""
