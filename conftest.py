"""Repository-wide pytest setup: the harness's own tests drive the plugin through `pytester`."""

pytest_plugins = ["pytester", "tests.servers"]
