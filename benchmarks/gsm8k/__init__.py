"""The gsm8k suite (a package so that `pytest --pyargs evalscope.benchmarks.gsm8k` finds it)."""
