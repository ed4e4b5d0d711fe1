"""The mmlu suite (a package so that `pytest --pyargs evalscope.benchmarks.mmlu` finds it)."""
