"""The humaneval suite (a package so that `pytest --pyargs evalscope.benchmarks.humaneval` finds it)."""
