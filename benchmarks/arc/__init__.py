"""The arc suite (a package so that `pytest --pyargs evalscope.benchmarks.arc` finds it)."""
