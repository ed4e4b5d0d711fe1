"""The ceval suite (a package so that `pytest --pyargs evalscope.benchmarks.ceval` finds it)."""
