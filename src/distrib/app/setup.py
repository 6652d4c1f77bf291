"""Getting started: a local server that captures what is sent (the starter workspace:
`distrib.app.workspace.start_workspace`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["capture_mail"]


def capture_mail(
    *,
    host: str,
    port: int,
    maildir: Path,
    on_message: Callable[[str], None],
    on_ready: Callable[[str, int], None],
) -> None:
    """Run the local capture SMTP server until interrupted (nothing is relayed)."""
    from distrib.sink import run_sink

    run_sink(host=host, port=port, maildir=maildir, on_message=on_message, on_ready=on_ready)
