"""The general_qa suite (a package so that `pytest --pyargs evalscope.benchmarks.general_qa` finds it)."""
