"""The mbpp suite (a package so that `pytest --pyargs evalscope.benchmarks.mbpp` finds it)."""
