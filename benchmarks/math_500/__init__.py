"""The math_500 suite (a package so that `pytest --pyargs evalscope.benchmarks.math_500` finds it)."""
