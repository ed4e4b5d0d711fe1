"""The longbench_write suite (a package so that `pytest --pyargs evalscope.benchmarks.longbench_write` finds it)."""
