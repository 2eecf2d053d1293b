"""The connection of a command: the token, the client's settings, and the ``--fake`` server.

This is the only place the command line reads environment variables.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
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


_ASSIGNMENT = re.compile(rf"^\s*(?:export\s+)?{ENV_TOKEN}\s*=\s*(.*?)\s*$")
# NAME=value, but not a base64 token's "==" padding.
_OTHER_ASSIGNMENT = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)")


def parse_token_file(text: str) -> tuple[str, bool]:
    """The token in a token file's text, and whether it was written as an assignment.

    Takes the token alone (surrounding whitespace and a UTF-8 byte-order mark, which editors on
    Windows add, ignored), or a shell or ``.env`` line ``[export] TABNINE_API_TOKEN=<token>``
    (quotes removed) among other lines. Never repeats the file's text in an error.
    """
    text = text.removeprefix("\ufeff")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match:
            value = match.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1].strip()
            if not value:
                raise ConfigurationError(f"the {ENV_TOKEN}= line of the token file is empty")
            return value, True
    if not lines:
        raise ConfigurationError("the token file is empty")
    if len(lines) > 1:
        if any(_OTHER_ASSIGNMENT.match(line) for line in lines):
            raise ConfigurationError(
                f"the token file holds assignments but no {ENV_TOKEN}=... line"
            )
        raise ConfigurationError(
            f"the token file has {len(lines)} lines; it should hold the token alone"
        )
    return lines[0], False


def read_token(args: argparse.Namespace) -> str:
    """The token from ``--token-file``, else the environment. Never echoed in any message."""
    path: Path | None = args.token_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise ConfigurationError(f"cannot read the token file {path}: {reason}") from None
        try:
            token, assignment = parse_token_file(text)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{exc} ({path})") from None
        if assignment and not args.quiet:
            note(
                f"{path} is written as {ENV_TOKEN}=...; using its value (the file may also hold "
                "the token alone)"
            )
        return token
    token = os.environ.get(ENV_TOKEN, "").strip().removeprefix("\ufeff")
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
    for name in ("proxy", "ca_bundle", "client_cert", "client_key"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
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
        # The fake listens on loopback: a corporate proxy from the environment cannot reach it.
        options = {"trust_env": False, **client_options(args)}
        client = TabnineClient(token=fake.token, base_url=fake.base_url, **options)
        async with client:
            yield client
