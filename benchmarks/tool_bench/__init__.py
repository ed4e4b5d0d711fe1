"""The tool_bench suite (a package so that `pytest --pyargs evalscope.benchmarks.tool_bench` finds it)."""
