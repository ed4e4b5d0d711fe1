"""The perf suite (a package so that `pytest --pyargs evalscope.benchmarks.perf` finds it)."""
