"""The chartqa suite (a package so that `pytest --pyargs evalscope.benchmarks.chartqa` finds it)."""
