"""The bfcl suite (a package so that `pytest --pyargs evalscope.benchmarks.bfcl` finds it)."""
