"""The built-in benchmark suites, installed as `evalscope.benchmarks`: one folder per benchmark."""
