"""The race suite (a package so that `pytest --pyargs evalscope.benchmarks.race` finds it)."""
