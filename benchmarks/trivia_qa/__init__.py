"""The trivia_qa suite (a package so that `pytest --pyargs evalscope.benchmarks.trivia_qa` finds it)."""
