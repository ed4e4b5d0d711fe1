"""The needle_haystack suite (a package so that `pytest --pyargs evalscope.benchmarks.needle_haystack` finds it)."""
