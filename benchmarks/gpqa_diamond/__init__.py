"""The gpqa_diamond suite (a package so that `pytest --pyargs evalscope.benchmarks.gpqa_diamond` finds it)."""
