"""The hellaswag suite (a package so that `pytest --pyargs evalscope.benchmarks.hellaswag` finds it)."""
