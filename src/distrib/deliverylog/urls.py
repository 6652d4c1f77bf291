"""Delivery logs named by URL, for people: the password is never shown.

No driver is needed here (the name of a log is shown even when psycopg is not installed).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

__all__ = ["database_name", "redact", "scrub"]


def _split(url: str) -> tuple[str, str, str]:
    """(``scheme://``, user information, the rest): the user information ends at the last
    ``@`` before the query, so a password holding ``@`` or ``/`` (which should be
    percent-encoded, and sometimes is not) is still found whole."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", url
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, end)
    if at < 0:
        return scheme + sep, "", rest
    return scheme + sep, rest[:at], rest[at:]


def _query_items(url: str) -> list[tuple[str, str]]:
    end = len(url) if "#" not in url else url.index("#")
    return parse_qsl(url[:end].partition("?")[2], keep_blank_values=True)


def redact(url: str) -> str:
    """``url`` without its password (in the user part or as a ``password=`` parameter)."""
    scheme, userinfo, rest = _split(url)
    user = userinfo.partition(":")[0]
    base, sep, query = rest.partition("?")
    if sep:
        query, hash_, fragment = query.partition("#")
        kept = [p for p in query.split("&") if p.partition("=")[0].lower() != "password"]
        rest = base + ("?" + "&".join(kept) if kept else "") + hash_ + fragment
    return scheme + user + rest


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with ``url``'s password taken out, should the
    driver ever quote it."""
    text = text.replace(url, redact(url))
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


def _passwords(url: str) -> list[str]:
    _, userinfo, _ = _split(url)
    found = []
    if ":" in userinfo:
        secret = userinfo.partition(":")[2]
        found += [secret, unquote(secret)]
    found += [v for k, v in _query_items(url) if k.lower() == "password"]
    return sorted({s for s in found if s}, key=len, reverse=True)


def database_name(url: str) -> str:
    """The database a URL names, for short messages (the URL without password if none)."""
    _, _, rest = _split(url)
    path = rest.partition("?")[0].partition("#")[0].partition("/")[2]
    name = unquote(path) or dict(_query_items(url)).get("dbname", "")
    return name or redact(url)
