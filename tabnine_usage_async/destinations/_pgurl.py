"""Reading a ``postgresql://`` destination URL (pure, no driver needed).

The URL is libpq's, plus one parameter of ours: ``schema`` (default ``tabnine``), the PostgreSQL
schema that holds the dataset. Everything else (``sslmode``, ``sslrootcert``, ``sslcert``,
``sslkey``, ``passfile``, ``connect_timeout``...) goes to the driver as libpq users expect, and a
missing password is looked up by the driver in ``PGPASSWORD`` and the ``.pgpass`` file. The
password never enters :attr:`PostgresTarget.display`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import attrs

from ._base import DestinationError

__all__ = ["DEFAULT_SCHEMA", "SCHEMES", "PostgresTarget", "parse_postgres_url"]

#: URL schemes that name a PostgreSQL destination.
SCHEMES = ("postgresql", "postgres")

#: The schema a URL without ``?schema=`` writes to.
DEFAULT_SCHEMA = "tabnine"

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@attrs.frozen(repr=False)
class PostgresTarget:
    """Where a PostgreSQL dataset lives.

    Attributes:
        dsn: the URL for the driver, without ``schema`` and without the password.
        password: the URL's password, or ``None`` (then ``PGPASSWORD`` or ``.pgpass`` apply).
        schema: the schema holding the dataset's tables.
        display: ``postgresql://user@host:port/database?schema=...``, safe to print.
    """

    dsn: str
    password: str | None
    schema: str
    display: str

    def __repr__(self) -> str:
        return f"PostgresTarget({self.display!r})"


def parse_postgres_url(url: str) -> PostgresTarget:
    """Split a destination URL into the driver's DSN, the password, the schema and a display.

    Raises ``DestinationError`` (naming no password) for a URL that is not one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationError(f"not a PostgreSQL URL ({_scrubbed(str(exc))})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise DestinationError("not a PostgreSQL URL (expected postgresql://...)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    rest: list[tuple[str, str]] = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            rest.append((key, value))
    if not _SCHEMA_NAME.fullmatch(schema):
        raise DestinationError(
            f"schema {schema!r} is not a plain lower-case PostgreSQL name (letters, digits, _)"
        )
    for key, value in rest:
        if key == "sslmode" and value not in _SSLMODES:
            raise DestinationError(f"sslmode={value!r} is not one of {', '.join(_SSLMODES)}")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    hostport = host + (f":{port}" if port is not None else "")
    netloc = (f"{quote(user, safe='')}@" if user else "") + hostport
    database = unquote(parts.path.lstrip("/"))
    path = "/" + quote(database, safe="") if database else ""
    dsn = f"postgresql://{netloc}{path}" + (f"?{urlencode(rest)}" if rest else "")
    display = f"postgresql://{netloc}{path or '/'}?schema={schema}"
    return PostgresTarget(dsn=dsn, password=password, schema=schema, display=display)


def _scrubbed(text: str) -> str:
    # urllib's messages quote the offending port text, which may follow a password.
    return re.sub(r"'[^']*'", "'...'", text)
