"""The general_vqa suite (a package so that `pytest --pyargs evalscope.benchmarks.general_vqa` finds it)."""
