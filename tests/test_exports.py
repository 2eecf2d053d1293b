"""The public surface: __all__ is sorted, complete and importable."""

from __future__ import annotations

import types

import tabnine_usage_async


def test_all_is_sorted_and_unique() -> None:
    """__all__ is sorted (case-sensitively) with no duplicates."""
    names = tabnine_usage_async.__all__
    assert names == sorted(names) and len(set(names)) == len(names)


def test_all_is_complete() -> None:
    """Every public attribute of the package is listed in __all__, and every listed name exists."""
    public = {
        name
        for name, value in vars(tabnine_usage_async).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(tabnine_usage_async.__all__) | {"annotations"}
    for name in tabnine_usage_async.__all__:
        assert hasattr(tabnine_usage_async, name)


def test_every_public_name_has_a_docstring() -> None:
    """Each exported class and function documents itself."""
    for name in tabnine_usage_async.__all__:
        value = getattr(tabnine_usage_async, name)
        if isinstance(value, type) or callable(value):
            assert value.__doc__, name
