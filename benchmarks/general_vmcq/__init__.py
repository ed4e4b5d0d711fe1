"""The general_vmcq suite (a package so that `pytest --pyargs evalscope.benchmarks.general_vmcq` finds it)."""
