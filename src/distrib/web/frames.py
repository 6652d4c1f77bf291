"""Message HTML (and any HTML that is not ours) shown only inside a sandboxed frame.

Such HTML comes from templates, releases and contact data: it may hold scripts, forms, styles
that imitate our page, links that leak.  It is never written into our own pages.  `FrameStore`
keeps it under a random id; the page shows ``<iframe sandbox="" src="/frame/ID">`` (the
``frame`` macro of ``_frame.html``); the route answers with `FRAME_CSP`:

* ``sandbox``: a unique origin, no script, no form, no pop-up, no top navigation, even if a
  browser ignored the iframe's own ``sandbox=""``;
* ``default-src 'none'``: nothing is fetched, not even from us; images only as ``data:`` or
  ``cid:`` parts (no remote image can tell anyone the message was looked at); inline styles
  allowed (messages are styled inline);
* ``frame-ancestors 'self'``: only our pages may frame it.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

__all__ = ["FRAME_CSP", "FrameStore"]

FRAME_CSP = (
    "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline';"
    " frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


class FrameStore:
    """HTML documents to show in sandboxed frames, by random id (the latest 256 kept)."""

    def __init__(self, keep: int = 256) -> None:
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, html: str) -> str:
        """Keep ``html``; return the URL path the frame loads it from."""
        frame_id = secrets.token_urlsafe(16)
        with self._lock:
            self._documents[frame_id] = html
            while len(self._documents) > self._keep:
                self._documents.popitem(last=False)
        return f"/frame/{frame_id}"

    def get(self, frame_id: str) -> str | None:
        """The document of ``frame_id``, if it is still kept."""
        with self._lock:
            return self._documents.get(frame_id)
