"""A mailbox on an IMAP server: read the messages distrib has not recorded yet, then flag those
it recorded, so reading the same mailbox again counts nothing twice.

Addresses (RFC 5092 style, without a password: a password in the address is refused)::

    imaps://presse@agapc.example@outlook.office365.com/INBOX     implicit TLS, port 993
    imap://presse%40agapc.example@imap.example.org:143/Bounces   STARTTLS, port 143

The user part may keep its ``@`` as typed or be percent-encoded; the folder is the path (default
``INBOX``).

**Security.**  ``imaps`` is TLS from the first byte; ``imap`` must offer STARTTLS, and the
connection is upgraded before anything else is sent.  Certificates are verified (the system's
CAs, or ``ca_file``).  A server without TLS is refused unless its host is 127.0.0.1 / ::1 /
localhost **and** ``allow_plaintext_localhost`` is set (a local test server).  The password
comes from an environment variable (``password_env``, default ``DISTRIB_IMAP_PASSWORD``) and is
looked up before connecting; with a `TokenProvider` the login is ``AUTHENTICATE XOAUTH2`` with a
token from the same sign-in as the relay (refreshed once if the server refuses it).  Neither
ever appears in an error message.

**Flags, not moves.**  Messages are fetched with ``BODY.PEEK[]`` (their read/unread state is not
changed) among those without the keyword ``$DistribProcessed``.  After the caller has recorded
what it understood, `ImapMailbox.mark_processed` sets that keyword on exactly those messages;
everything else (a bounce naming no recipient, a request with a bad address, a reply that is
not for this command) stays unflagged, so it is listed again and another command can still
take it.  Nothing is moved or deleted: the officer's folders stay as they are.  The server must
allow keywords (``PERMANENTFLAGS`` with ``\\*``, as Dovecot, Gmail and Exchange Online do);
otherwise the mailbox is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from distrib.relay.errors import ImapError, RelayError

if TYPE_CHECKING:
    from distrib.mailbox import InboxMessage
    from distrib.relay.oauth import TokenProvider

__all__ = [
    "PROCESSED",
    "ImapMailbox",
    "ImapSettings",
    "MailboxURL",
    "SentCopies",
    "append_to_sent",
    "is_imap_url",
]

PROCESSED = "$DistribProcessed"
_LOCAL = frozenset({"127.0.0.1", "::1", "localhost"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BATCH = 50


def is_imap_url(location: str | Path) -> bool:
    """Tell whether ``location`` names an IMAP mailbox rather than a file or a folder."""
    return isinstance(location, str) and location[:8].lower().startswith(("imap://", "imaps://"))


def _clean(text: object, limit: int = 300) -> str:
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class MailboxURL:
    """A parsed ``imap://`` or ``imaps://`` address."""

    scheme: Literal["imap", "imaps"]
    user: str
    host: str
    port: int
    folder: str = "INBOX"

    @classmethod
    def parse(cls, text: str) -> MailboxURL:
        """Parse and check an address; `ImapError` names what is wrong."""
        if _CONTROL.search(text):
            raise ImapError(f"{_clean(text)!r}: a mailbox address cannot hold control characters")
        scheme, sep, rest = text.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("imap", "imaps"):
            raise ImapError(f"{text!r}: not an imap:// or imaps:// address")
        authority, _, path = rest.partition("/")
        userinfo, at, hostport = authority.rpartition("@")
        if not at or not userinfo:
            raise ImapError(f"{text!r}: name the user: imaps://USER@HOST/FOLDER")
        if ":" in userinfo.replace("%3A", ":").replace("%3a", ":"):
            raise ImapError(
                f"{scheme}://…@{hostport}: a password in the address is refused; put it in an"
                " environment variable"
            )
        try:
            split = urlsplit(f"//{hostport}")
            host, port = split.hostname, split.port
        except ValueError:
            raise ImapError(f"{text!r}: not a valid host and port") from None
        if not host:
            raise ImapError(f"{text!r}: no host")
        folder = unquote(path.split(";", 1)[0]).strip("/") or "INBOX"
        user = unquote(userinfo)
        return cls(scheme, user, host, port or (993 if scheme == "imaps" else 143), folder)  # type: ignore[arg-type]

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 993 if self.scheme == "imaps" else 143
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.user}@{host}{port}/{self.folder}"

    @property
    def is_local(self) -> bool:
        """The server is on this machine."""
        return self.host.lower() in _LOCAL


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """How to reach and log into the mailbox (the address says where)."""

    password_env: str = "DISTRIB_IMAP_PASSWORD"  # noqa: S105  (a variable's name)
    tokens: TokenProvider | None = None
    ca_file: Path | None = None
    allow_plaintext_localhost: bool = False
    timeout: float = 60.0
    keyword: str = PROCESSED


class ImapMailbox:
    """One IMAP folder, opened for reading and flagging; use as a context manager."""

    def __init__(self, url: MailboxURL | str, settings: ImapSettings | None = None) -> None:
        self.url = url if isinstance(url, MailboxURL) else MailboxURL.parse(url)
        self.settings = settings or ImapSettings()
        self._client: Any = None
        self._uids: dict[str, int] = {}
        self._validity = 0

    def __enter__(self) -> ImapMailbox:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- connecting ------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        cafile = str(self.settings.ca_file) if self.settings.ca_file is not None else None
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ImapError(f"{self.settings.ca_file}: cannot use this CA file: {exc}") from None

    def _password(self) -> str:
        name = self.settings.password_env
        value = os.environ.get(name)
        if not value:
            raise ImapError(
                f"{self.url}: no password: set the environment variable {name}"
                " (or sign in with OAuth2)"
            )
        return value

    def open(self, *, select: bool = True) -> None:
        """Connect, secure the connection, log in, select the folder (unless not ``select``)."""
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        password = self._password() if self.settings.tokens is None else None
        where = str(self.url)
        context = self._context()
        try:
            client = IMAPClient(
                self.url.host,
                port=self.url.port,
                ssl=self.url.scheme == "imaps",
                ssl_context=context,
                timeout=self.settings.timeout,
            )
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            raise ImapError(f"{where}: cannot connect: {_reason(exc)}") from None
        self._client = client
        try:
            if self.url.scheme == "imap":
                if client.has_capability("STARTTLS"):
                    client.starttls(context)
                elif not (self.url.is_local and self.settings.allow_plaintext_localhost):
                    raise ImapError(
                        f"{where}: the server does not offer STARTTLS; refusing to log in"
                        " without encryption (use imaps:// if it offers implicit TLS)"
                    )
            if password is not None:
                client.login(self.url.user, password)
            else:
                self._oauth_login(client)
            if select:
                self._select(client)
        except LoginError:
            self.close()
            how = "the password" if password is not None else "the OAuth2 token"
            raise ImapError(f"{where}: the server refused {how} for {self.url.user}") from None
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            self.close()
            raise ImapError(f"{where}: {_reason(exc)}") from None
        except RelayError:
            self.close()
            raise

    def _oauth_login(self, client: Any) -> None:
        from imapclient.exceptions import LoginError

        tokens = self.settings.tokens
        assert tokens is not None
        if not client.has_capability("AUTH=XOAUTH2"):
            raise ImapError(f"{self.url}: the server does not offer AUTH=XOAUTH2")
        try:
            client.oauth2_login(self.url.user, tokens.access_token())
        except LoginError:
            # An access token revoked early: one more try with a fresh one.
            client.oauth2_login(self.url.user, tokens.access_token(force_refresh=True))

    def _select(self, client: Any) -> None:
        from imapclient.exceptions import IMAPClientError

        try:
            status = client.select_folder(self.url.folder)
        except IMAPClientError:
            raise ImapError(f"{self.url}: no folder {self.url.folder!r} in this mailbox") from None
        permanent = [bytes(f) for f in status.get(b"PERMANENTFLAGS", ())]
        keyword = self.settings.keyword.encode()
        if b"\\*" not in permanent and keyword not in permanent:
            raise ImapError(
                f"{self.url}: the server does not keep keywords on messages, so distrib cannot"
                f" mark what it recorded ({self.settings.keyword})"
            )
        self._validity = int(status.get(b"UIDVALIDITY", 0))

    def close(self) -> None:
        """Log out (quietly: the connection may already be gone)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # closing: nothing useful to report; drop the socket instead
            with contextlib.suppress(Exception):
                client.shutdown()

    # -- reading and flagging --------------------------------------------------------------

    def _source(self, uid: int) -> str:
        return f"{self.url};UIDVALIDITY={self._validity}/;UID={uid}"

    def messages(self) -> Iterator[InboxMessage]:
        """Every message of the folder without the keyword, oldest first, unchanged (PEEK)."""
        from imapclient.exceptions import IMAPClientError

        from distrib.mailbox import InboxMessage

        client = self._client
        if client is None:
            raise ImapError(f"{self.url}: the mailbox is not open")
        try:
            uids = sorted(client.search(["UNKEYWORD", self.settings.keyword]))
            for start in range(0, len(uids), _BATCH):
                batch = uids[start : start + _BATCH]
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    data = fetched.get(uid, {}).get(b"BODY[]")
                    if data is None:
                        continue  # expunged meanwhile
                    source = self._source(uid)
                    self._uids[source] = uid
                    yield InboxMessage(source, bytes(data))
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            raise ImapError(f"{self.url}: cannot read: {_reason(exc)}") from None

    def mark_processed(self, sources: Iterable[str]) -> int:
        """Set the keyword on the messages read from ``sources``; return how many."""
        from imapclient.exceptions import IMAPClientError

        uids = sorted({self._uids[s] for s in sources if s in self._uids})
        if not uids:
            return 0
        if self._client is None:
            raise ImapError(f"{self.url}: the mailbox is not open")
        try:
            self._client.add_flags(uids, [self.settings.keyword], silent=True)
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            raise ImapError(
                f"{self.url}: recorded, but could not flag {len(uids)} message(s): {_reason(exc)};"
                " a second run will find them again (and record nothing twice)"
            ) from None
        return len(uids)


@dataclass(frozen=True, slots=True)
class SentCopies:
    """What `append_to_sent` did: the folder, the copies appended, those already there."""

    folder: str
    appended: int
    already: int


def _sent_folder(client: Any, fallback: str) -> str:
    """The folder the server marks ``\\Sent`` (RFC 6154 SPECIAL-USE), else ``fallback``."""
    if client.has_capability("SPECIAL-USE"):
        for flags, _delimiter, name in client.list_folders():
            if b"\\Sent" in flags:
                return str(name)
    return fallback


def append_to_sent(
    url: MailboxURL | str,
    settings: ImapSettings,
    messages: Iterable[tuple[str, Callable[[], bytes]]],
    *,
    fallback_folder: str = "Sent",
) -> SentCopies:
    """Append a copy of each message (its Message-ID, and how to get its bytes) to the Sent
    folder of the mailbox at ``url``, flagged ``\\Seen``, unless a message with that
    Message-ID is there already (so a second call appends nothing twice).  The folder is the
    server's SPECIAL-USE ``\\Sent`` one, else ``fallback_folder`` (created when missing).
    `ImapError` when the mailbox cannot be reached or refuses; never a password in it."""
    from imapclient.exceptions import IMAPClientError

    box = ImapMailbox(url, settings)
    box.open(select=False)
    client = box._client
    folder = fallback_folder
    appended = already = 0
    try:
        folder = _sent_folder(client, fallback_folder)
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.select_folder(folder)
        for message_id, data in messages:
            if client.search(["HEADER", "Message-ID", message_id]):
                already += 1
                continue
            client.append(folder, data(), flags=[b"\\Seen"])
            appended += 1
    except (OSError, ssl.SSLError, IMAPClientError) as exc:
        raise ImapError(
            f"{box.url}: could not copy to the folder {_clean(folder, 80)!r}"
            f" ({appended} copied): {_reason(exc)}"
        ) from None
    finally:
        box.close()
    return SentCopies(folder, appended, already)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({_clean(exc.verify_message, 120)})"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return _clean(exc.strerror, 200)
    return _clean(exc, 200) or type(exc).__name__
