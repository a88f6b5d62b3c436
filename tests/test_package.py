"""The root namespace ``hsi_tumor``: the plain API (``__all__``) and the subpackages, nothing
that leaked from its own imports (issue 17: ``ht.version``, ``ht.PackageNotFoundError``)."""

from __future__ import annotations

import pkgutil

import hsi_tumor as ht


def test_the_root_namespace_is_the_api_and_the_subpackages():
    modules = {m.name for m in pkgutil.iter_modules(ht.__path__)}
    public = {name for name in dir(ht) if not name.startswith("__")}
    assert public - modules == set(ht.__all__) - {"__version__"}
    assert "version" not in public and "PackageNotFoundError" not in public
    assert all(hasattr(ht, name) for name in ht.__all__)
