"""PostgreSQL URLs for people: the password is never shown (no psycopg needed here)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

__all__ = ["database_name", "redact", "scrub"]

#: ``scheme://user:password@`` → ``scheme://user@``
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#@]*@")
#: ``password=...`` as a query parameter (libpq accepts it there too).
_QUERY_PASSWORD = re.compile(r"(?i)(?<=[?&])password=[^&#]*&?")


def redact(url: str) -> str:
    """``url`` without its password (in the user part or as a ``password=`` parameter)."""
    text = _USERINFO.sub(r"\1@", url)
    text = _QUERY_PASSWORD.sub("", text)
    return text.rstrip("&").removesuffix("?")


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with ``url``'s password taken out, should the
    driver ever quote it."""
    text = text.replace(url, redact(url))
    for secret in _passwords(url):
        if secret:
            text = text.replace(secret, "***")
    return text


def _passwords(url: str) -> list[str]:
    found = []
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:([^/?#@]*)@", url)
    if match:
        found += [match.group(1), unquote(match.group(1))]
    query = url.partition("?")[2].partition("#")[0]
    found += [v for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() == "password"]
    return sorted(set(found), key=len, reverse=True)


def database_name(url: str) -> str:
    """The database a URL names, for short messages (the URL itself if none is named)."""
    rest = url.partition("://")[2]
    path = rest.partition("?")[0].partition("#")[0].partition("/")[2]
    query = dict(parse_qsl(url.partition("?")[2].partition("#")[0]))
    name = unquote(path) or query.get("dbname", "")
    return name or redact(url)
