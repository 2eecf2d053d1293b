"""Pytest plugin: a ``fake_tabnine`` fixture serving a fake Tabnine API for one test.

Installed with the package (entry point ``pytest11``). Configure the server with the
``fake_tabnine`` marker, whose keyword arguments go to
:func:`tabnine_usage_async.testing.serve_fake_tabnine`, or with indirect parametrization::

    @pytest.mark.fake_tabnine(users=50, seed=3, max_page_size=20)
    async def test_lists_every_user(fake_tabnine):
        ...  # fake_tabnine.base_url, fake_tabnine.token, fake_tabnine.dataset

    @pytest.mark.parametrize("fake_tabnine", [{"seed": 1}, {"seed": 2}], indirect=True)
    async def test_any_org(fake_tabnine): ...

The fixture is async and needs pytest-asyncio; without it, using the fixture fails with a
message saying so, and nothing else is affected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import FakeTabnine

__all__ = ["fake_tabnine", "fake_tabnine_options", "pytest_configure"]

_MARKER = "fake_tabnine"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_tabnine`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): options for the fake_tabnine fixture "
        "(keyword arguments of tabnine_usage_async.testing.serve_fake_tabnine)",
    )


def fake_tabnine_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The server options for a test: the closest marker's, then an indirect parameter's."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword arguments only")
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        options.update(param)
    elif param is not None:
        raise pytest.UsageError("indirect fake_tabnine parameters must be dicts of options")
    return options


async def _serve(request: pytest.FixtureRequest) -> AsyncIterator[FakeTabnine]:
    """A fake Tabnine server on 127.0.0.1, stopped after the test."""
    from .server import serve_fake_tabnine

    async with serve_fake_tabnine(**fake_tabnine_options(request)) as fake:
        yield fake


def _missing_pytest_asyncio(request: pytest.FixtureRequest) -> None:
    """Stands in for the fixture when pytest-asyncio is not installed."""
    pytest.fail(
        "the fake_tabnine fixture is async and needs pytest-asyncio: "
        "pip install pytest-asyncio (and mark tests with @pytest.mark.asyncio or use "
        "asyncio_mode = auto)",
        pytrace=False,
    )


fake_tabnine: Any
try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    fake_tabnine = pytest.fixture(name="fake_tabnine")(_missing_pytest_asyncio)
else:
    fake_tabnine = pytest_asyncio.fixture(name="fake_tabnine")(_serve)
