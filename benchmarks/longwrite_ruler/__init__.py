"""The longwrite_ruler suite (a package so that `pytest --pyargs evalscope.benchmarks.longwrite_ruler` finds it)."""
