"""What the workspace's page modules (``pages_*.py``) need from `distrib.web.workspace`'s
handlers: the server's settings, the frames and uploads it keeps, and how it renders a page, a
refused upload or an error.  A protocol, so those modules do not import the application module
that registers them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from distrib.errors import DistribError
    from distrib.web.frames import FrameStore
    from distrib.web.uploads import StoredUpload, UploadRefused

__all__ = ["PageHost"]


class PageHost(Protocol):
    """The handlers' shared state and rendering (`distrib.web.workspace._Pages`)."""

    settings: Any  # a UiSettings; replaced once `/setup` has created the workspace

    @property
    def frames(self) -> FrameStore: ...

    @property
    def uploads(self) -> dict[str, StoredUpload]: ...

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        """Render page ``name``."""
        ...

    def refused(self, request: Request, refused: UploadRefused) -> Response:
        """The page of an upload not kept."""
        ...

    def problems(self, request: Request, exc: DistribError) -> Response:
        """The page of an error."""
        ...
