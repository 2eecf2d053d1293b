"""The connection of a command: the token, the client's settings, and the ``--fake`` server.

This is the only place the command line reads environment variables.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..client import DEFAULT_BASE_URL, TabnineClient
from ..errors import ConfigurationError
from ._errors import note

__all__ = ["ENV_BASE_URL", "ENV_TOKEN", "FAKE_SEED", "FAKE_TEAMS", "FAKE_USERS", "connect"]

ENV_TOKEN = "TABNINE_API_TOKEN"
ENV_BASE_URL = "TABNINE_BASE_URL"

# The fake organization ``--fake`` serves unless told otherwise: big enough to look real, small
# enough that a six-month daily backfill of it takes seconds.
FAKE_USERS = 300
FAKE_TEAMS = 12
FAKE_SEED = 7


def read_token(args: argparse.Namespace) -> str:
    """The token from ``--token-file``, else the environment. Never echoed in any message."""
    path: Path | None = args.token_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise ConfigurationError(f"cannot read the token file {path}: {reason}") from None
        token = text.strip()
        if not token:
            raise ConfigurationError(f"the token file {path} is empty")
        return token
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise ConfigurationError(
            f"no API token: set {ENV_TOKEN} or pass --token-file PATH "
            "(create a token in the Tabnine admin console under Settings > Access Tokens), "
            "or try the tool with --fake"
        )
    return token


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client's keyword arguments from the connection options; unset ones keep defaults."""
    options: dict[str, Any] = {
        "max_concurrency": args.concurrency,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if args.rate_limit is not None:
        options["rate_limit"] = args.rate_limit
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.page_size is not None:
        options["page_size"] = args.page_size
    return options


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[TabnineClient]:
    """An open client for the command: the configured API, or a fake one for ``--fake``.

    The client is built (which validates every setting) before it is opened, and opening sends
    no request.
    """
    if not args.fake:
        base_url = args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        client = TabnineClient(token=read_token(args), base_url=base_url, **client_options(args))
        async with client:
            yield client
        return
    from ..testing import serve_fake_tabnine

    async with serve_fake_tabnine(
        teams=args.fake_teams,
        users=args.fake_users,
        seed=args.fake_seed,
        version=args.fake_version,
        agent_license=not args.fake_no_agent_license,
    ) as fake:
        if not args.quiet:
            note(
                f"using a fake Tabnine API at {fake.base_url} "
                f"({args.fake_users} users, {args.fake_teams} teams, seed {args.fake_seed})"
            )
        client = TabnineClient(token=fake.token, base_url=fake.base_url, **client_options(args))
        async with client:
            yield client
