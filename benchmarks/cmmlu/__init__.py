"""The cmmlu suite (a package so that `pytest --pyargs evalscope.benchmarks.cmmlu` finds it)."""
