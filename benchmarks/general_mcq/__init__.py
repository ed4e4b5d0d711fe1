"""The general_mcq suite (a package so that `pytest --pyargs evalscope.benchmarks.general_mcq` finds it)."""
