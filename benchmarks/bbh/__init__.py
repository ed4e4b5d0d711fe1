"""The bbh suite (a package so that `pytest --pyargs evalscope.benchmarks.bbh` finds it)."""
