"""`distrib preview --serve`: every journalist's message, browsable on a local web page.

A `ThreadingHTTPServer` on 127.0.0.1 only (never another interface) serves:

``/``                        every recipient; filters by language, outlet and status, a search by
                             name or address (a plain GET form: the pages hold no script at all)
``/message/N``               message N: headers, warnings or problems, attachments, the HTML part
                             in a sandboxed iframe (no scripts, no same-origin), the text part
``/message/N/html``          the HTML part alone (what the iframe shows)
``/message/N.eml``           the message as it would be sent
``/message/N/attachment/I``  attachment I
``/problems``                every contact whose message cannot be rendered, every warning
                             (long subjects, oversized HTML, fallback language, unused outlet
                             folders) and the rows rejected from the media lists

Served from a `distrib.app.LivePreview`, every page is of the files as they are: the preview is
collected again when the release, the templates, the contact lists, the outlets sheet or the
campaign file change (the pages say so, and when; reload the page to see a change).

Every page is autoescaped and served with a Content-Security-Policy that forbids scripts; the
HTML part additionally gets ``sandbox``.  Requests whose Host is not this server's own address
are refused (a web page elsewhere cannot reach the preview through DNS rebinding).
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from distrib.app import format_size

if TYPE_CHECKING:
    from distrib.app import LivePreview, PreviewEntry, PreviewSet, RenderedMessage

__all__ = ["PAGE_SIZE", "PreviewServer", "matches"]

PAGE_SIZE = 500
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self' data:"
_PART_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:"
_MESSAGE_PATH = re.compile(r"/message/(\d+)(/html|\.eml|/attachment/(\d+))?")

_STATUSES = (
    ("", "(tous / all)"),
    ("problems", "problèmes / problems"),
    ("warnings", "avertissements / warnings"),
    ("ok", "sans problème / fine"),
)


def matches(entry: PreviewEntry, *, q: str, lang: str, outlet: str, status: str) -> bool:
    """Tell whether ``entry`` passes the list page's filters."""
    contact = entry.contact
    if lang and entry.language != lang:
        return False
    if outlet and contact.outlet_slug != outlet:
        return False
    if status == "problems" and entry.ok:
        return False
    if status == "warnings" and not (entry.ok and entry.warnings):
        return False
    if status == "ok" and not (entry.ok and not entry.warnings):
        return False
    needle = q.strip().casefold()
    haystack = f"{contact.name} {contact.email} {contact.address}".casefold()
    return not needle or needle in haystack


class PreviewServer:
    """The preview web server for one `PreviewSet`; listens on 127.0.0.1 only."""

    def __init__(self, preview: PreviewSet | LivePreview, port: int = 0) -> None:
        self._source = preview
        self._shown: PreviewSet | None = None  # the preview the message cache belongs to
        self._environment = Environment(
            loader=FileSystemLoader(Path(__file__).parent / "preview_pages"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._environment.globals["size"] = format_size
        self._cache: OrderedDict[int, RenderedMessage] = OrderedDict()
        self._lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            server_app = outer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def preview(self) -> PreviewSet:
        """The preview to show: of the files as they are now, when live."""
        from distrib.app import LivePreview

        source = self._source
        current = source.current() if isinstance(source, LivePreview) else source
        with self._lock:
            if current is not self._shown:  # collected again: numbers may mean others now
                self._cache.clear()
                self._shown = current
        return current

    @property
    def live(self) -> LivePreview | None:
        """The live preview served, if it is one."""
        from distrib.app import LivePreview

        return self._source if isinstance(self._source, LivePreview) else None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> PreviewServer:
        """Serve in a background thread (for tests and embedding)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self.httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- pages --------------------------------------------------------------------------------

    def _page(self, name: str, **values: Any) -> bytes:
        preview = self.preview
        entries = preview.entries
        titles = {"list": "Destinataires / Recipients", "problems": "Problèmes / Problems"}
        live = self.live
        common = {
            "title": titles.get(name, "Message"),
            "campaign": preview.campaign.name,
            "total": len(entries),
            "blocking": sum(not e.ok for e in entries),
            "warnings": sum(len(e.warnings) for e in entries) + len(preview.warnings),
            "live": live is not None,
            "built_at": live.built_at.strftime("%H:%M:%S") if live is not None else "",
            "live_error": live.error if live is not None else "",
        }
        html = self._environment.get_template(f"{name}.html").render(**common, **values)
        return html.encode("utf-8")

    def message(self, entry: PreviewEntry) -> RenderedMessage:
        """Render ``entry`` again (signed, as it would be sent), keeping the last few."""
        with self._lock:
            cached = self._cache.get(entry.number)
            if cached is not None:
                self._cache.move_to_end(entry.number)
                return cached
        rendered = self.preview.render(entry)
        with self._lock:
            self._cache[entry.number] = rendered
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return rendered

    def list_page(self, query: dict[str, str]) -> bytes:
        """Render the recipients page with the filters in ``query``."""
        filters = {key: query.get(key, "") for key in ("q", "lang", "outlet", "status")}
        entries = self.preview.entries
        found = [e for e in entries if matches(e, **filters)]
        outlets = sorted(
            {(e.contact.outlet_slug, e.contact.outlet) for e in entries if e.contact.outlet_slug},
            key=lambda pair: pair[1].casefold(),
        )
        languages = sorted({e.language for e in entries})
        return self._page(
            "list",
            shown=found[:PAGE_SIZE],
            more=len(found) > PAGE_SIZE,
            page_size=PAGE_SIZE,
            outlets=outlets,
            languages=languages,
            statuses=_STATUSES,
            **filters,
        )

    def message_page(self, entry: PreviewEntry) -> bytes:
        """Render the page of one message."""
        if not entry.ok:
            return self._page("message", entry=entry, message=None, text="", headers=[])
        rendered = self.message(entry)
        parsed = email.message_from_bytes(rendered.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        headers = [(name, str(value)) for name, value in parsed.items()]
        return self._page(
            "message", entry=entry, message=rendered, text=rendered.text, headers=headers
        )

    def problems_page(self) -> bytes:
        """Render the problems page: one line per distinct problem, with how many messages it
        concerns and links to the first few."""
        from distrib.app import group_problems

        preview = self.preview
        entries = preview.entries
        failing = [(e, p) for e in entries if not e.ok for p in e.problems]
        warned = [(e, p) for e in entries if e.ok for p in e.warnings]
        return self._page(
            "problems",
            failing=len({e.number for e, _ in failing}),
            blocking_groups=_grouped(failing),
            warned=len(warned),
            warning_groups=_grouped(warned),
            audience=group_problems(preview.warnings),
            rejected=preview.book_problems,
        )


def _grouped(pairs: list[tuple[PreviewEntry, Any]]) -> list[tuple[Any, list[PreviewEntry]]]:
    """Group (entry, problem) pairs by problem: each group with the entries of its examples."""
    from distrib.app import group_problems

    groups = group_problems(problem for _, problem in pairs)
    return [(group, [pairs[i][0] for i in group.indexes]) for group in groups]


class _Handler(BaseHTTPRequestHandler):
    """Route GET requests to the `PreviewServer` pages."""

    server_app: PreviewServer
    server_version = "distrib-preview"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the officer's terminal shows the URL, not a request log."""

    def do_HEAD(self) -> None:
        """Answer HEAD like GET, without the body."""
        self.do_GET()

    def do_GET(self) -> None:
        """Serve one page."""
        app = self.server_app
        allowed = {f"127.0.0.1:{app.port}", f"localhost:{app.port}"}
        if self.headers.get("Host", "") not in allowed:
            self._send(HTTPStatus.FORBIDDEN, b"Forbidden: wrong Host", "text/plain")
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route: Callable[[], None] | None = None
        if url.path == "/":
            route = lambda: self._html(app.list_page(query))  # noqa: E731
        elif url.path == "/problems":
            route = lambda: self._html(app.problems_page())  # noqa: E731
        else:
            match = _MESSAGE_PATH.fullmatch(url.path)
            if match is not None:
                route = lambda: self._message(match)  # noqa: E731
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, b"Not found", "text/plain")
            return
        try:
            route()
        except Exception as exc:  # a page that fails must not kill the server; say what failed
            body = f"Internal error: {type(exc).__name__}: {exc}".encode()
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, body, "text/plain; charset=utf-8")

    def _message(self, match: re.Match[str]) -> None:
        app = self.server_app
        number = int(match.group(1))
        entries = app.preview.entries
        if not 1 <= number <= len(entries):
            self._send(HTTPStatus.NOT_FOUND, b"No such message", "text/plain")
            return
        entry = entries[number - 1]
        kind = match.group(2)
        if kind is None:
            self._html(app.message_page(entry))
            return
        if not entry.ok:
            self._send(HTTPStatus.NOT_FOUND, b"This message cannot be rendered", "text/plain")
            return
        rendered = app.message(entry)
        if kind == "/html":
            body = rendered.preview_html.encode("utf-8")  # cid: images as data: URLs
            self._send(HTTPStatus.OK, body, "text/html; charset=utf-8", csp=_PART_CSP)
        elif kind == ".eml":
            self._send(HTTPStatus.OK, rendered.data, "message/rfc822", download=f"{number}.eml")
        else:
            index = int(match.group(3))
            if index >= len(rendered.attachments):
                self._send(HTTPStatus.NOT_FOUND, b"No such attachment", "text/plain")
                return
            attachment = rendered.attachments[index]
            self._send(
                HTTPStatus.OK,
                attachment.data,
                attachment.content_type,
                download=re.sub(r"[^A-Za-z0-9._-]", "_", attachment.filename),
            )

    def _html(self, body: bytes) -> None:
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        csp: str = _PAGE_CSP,
        download: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        if download is not None:
            self.send_header("Content-Disposition", f'attachment; filename="{download}"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
