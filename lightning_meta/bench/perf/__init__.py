"""Performance benchmarks: meta-step speed ratios (``speed``), peak memory against inner steps
(``memory``), meta-steps per second (``throughput``), the data pipeline (``data``, ``smlmt``),
their synthetic workloads (``workload``) and what a run ran on (``environment``)."""
