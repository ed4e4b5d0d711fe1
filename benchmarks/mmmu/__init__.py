"""The mmmu suite (a package so that `pytest --pyargs evalscope.benchmarks.mmmu` finds it)."""
