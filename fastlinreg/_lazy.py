"""Packages whose names are imported on first use (PEP 562), shared by ``fastlinreg``
and ``fastlinreg.sources``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable


def lazy_attributes(
    package: str, path: Iterable[str], names: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) of the package ``package`` (with ``__path__``
    ``path``): a name of ``names`` is imported on first use from the module it maps to
    (relative to the package); the name of one of the package's modules imports that
    module, as an eager package would have; anything else is an AttributeError. A name
    found is kept in the package, so it is looked up only once."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module, package), name)
        elif not name.startswith("__") and name in {m.name for m in pkgutil.iter_modules(path)}:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace["__all__"]))

    return __getattr__, __dir__
