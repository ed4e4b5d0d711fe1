"""The competition_math suite (a package so that `pytest --pyargs evalscope.benchmarks.competition_math` finds it)."""
