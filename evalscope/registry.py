"""The benchmark registry: a benchmark is a folder (`<name>/benchmark.py` + `test_<name>.py`), found by name."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from functools import cache
from pathlib import Path
from types import ModuleType

from evalscope.benchmark import Benchmark


class UnknownBenchmark(LookupError):
    """A benchmark name that no known folder defines, or a definition that cannot be loaded (one line)."""


_FOLDERS: dict[str, Path] = {}
"""Benchmark folders met outside the built-in root: the folder of a benchmark test file being collected."""


def benchmarks_root() -> Path:
    """Where the built-in benchmark folders are: inside the installed package, or at the top of a checkout."""
    env = os.environ.get("EVALSCOPE_BENCHMARKS_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    installed = package / "benchmarks"
    return installed if installed.is_dir() else package.parent / "benchmarks"


def _builtin(name: str) -> Path | None:
    path = benchmarks_root() / name
    return path.resolve() if (path / "benchmark.py").is_file() else None


def add_folder(folder: Path, allow_override: bool = False) -> None:
    """Know the benchmark in `folder` (named after it), e.g. one of the user's whose test file pytest runs. A name
    that shadows a built-in benchmark is an error unless `allow_override`."""
    folder = folder.resolve()
    if not (folder / "benchmark.py").is_file() or folder == _builtin(folder.name):
        return
    if _builtin(folder.name) is not None and not allow_override and _FOLDERS.get(folder.name) != folder:
        raise UnknownBenchmark(f"{folder}: benchmark {folder.name!r} shadows the built-in one; rename the folder or "
                               "pass --allow-override")
    _FOLDERS[folder.name] = folder


def add_root(root: Path, allow_override: bool = False) -> list[str]:
    """Know every benchmark folder under `root` (`NAME/benchmark.py`, `--benchmarks-dir`); their names."""
    if not root.is_dir():
        raise UnknownBenchmark(f"--benchmarks-dir {root}: not a folder")
    found = sorted(p.parent for p in root.glob("*/benchmark.py"))
    for folder in found:
        add_folder(folder, allow_override)
    return [f.name for f in found]


def available() -> list[str]:
    root = benchmarks_root()
    builtin = {p.parent.name for p in root.glob("*/benchmark.py")} if root.is_dir() else set()
    return sorted(builtin | set(_FOLDERS))


def benchmark_dir(name: str) -> Path:
    if name in _FOLDERS:
        return _FOLDERS[name]
    path = benchmarks_root() / name
    if not (path / "benchmark.py").is_file():
        known = ", ".join(available()) or "none found"
        raise UnknownBenchmark(f"unknown benchmark {name!r} (available: {known})")
    return path


ROOT_PACKAGE = "evalscope_benchmarks"
"""The package benchmark definitions are loaded under (`evalscope_benchmarks.<name>`), apart from wherever their
folders live."""


def _import_definition(name: str) -> ModuleType:
    module_name = f"{ROOT_PACKAGE}.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = benchmark_dir(name) / "benchmark.py"
    # The definition stands as its folder's package, so the folder's own helper modules import relatively
    # (`from .checker import ...`), in a checkout, a user's folder and the installed wheel alike.
    root = sys.modules.setdefault(ROOT_PACKAGE, ModuleType(ROOT_PACKAGE))
    root.__path__ = getattr(root, "__path__", [])
    spec = importlib.util.spec_from_file_location(module_name, path, submodule_search_locations=[str(path.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        # One line naming the definition's own line (a misspelt Setup field, a syntax error), not a traceback.
        del sys.modules[module_name]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = exc.lineno if isinstance(exc, SyntaxError) else frames[-1].lineno if frames else None
        where = f"{path}:{line}" if line else str(path)
        raise UnknownBenchmark(f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") \
            from None
    return module


def _definition(module: ModuleType) -> Benchmark:
    """The module's `BENCHMARK` instance, else an instance of the one Benchmark subclass it defines."""
    explicit = getattr(module, "BENCHMARK", None)
    if isinstance(explicit, Benchmark):
        return explicit
    own = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
           if issubclass(cls, Benchmark) and cls.__module__ == module.__name__ and not inspect.isabstract(cls)]
    if len(own) != 1:
        found = ", ".join(cls.__name__ for cls in own) or "none"
        raise UnknownBenchmark(f"{module.__file__}: defines {len(own)} Benchmark subclasses ({found}); define "
                               "exactly one, or name the one to use: BENCHMARK = MyBenchmark()")
    return own[0]()


@cache
def get(name: str) -> Benchmark:
    """The benchmark named `name`, loaded once per process; its name is its folder's."""
    bench = _definition(_import_definition(name))
    bench.name = name
    if not getattr(bench, "setups", ()):
        raise UnknownBenchmark(f"{benchmark_dir(name) / 'benchmark.py'}: {type(bench).__name__} has no setups")
    return bench
