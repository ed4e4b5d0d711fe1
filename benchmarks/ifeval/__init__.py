"""The ifeval suite (a package so that `pytest --pyargs evalscope.benchmarks.ifeval` finds it)."""
