"""The opencompass suite (a package so that `pytest --pyargs evalscope.benchmarks.opencompass` finds it)."""
