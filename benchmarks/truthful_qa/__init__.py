"""The truthful_qa suite (a package so that `pytest --pyargs evalscope.benchmarks.truthful_qa` finds it)."""
