"""The arena suite (a package so that `pytest --pyargs evalscope.benchmarks.arena` finds it)."""
