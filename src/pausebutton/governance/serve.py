"""Serve a governance TUF repository over HTTP: static files, as any web server would.

The repository needs no logic on the server: TUF metadata and targets are plain files, so
a CDN or a mirror serves them as well. This helper runs the standard library's threading
HTTP server on loopback (an ephemeral port by default) in a background thread, for the
tests, the benchmark and ``pausebutton governance serve``.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

SHUTDOWN_POLL_S = 0.05
"""How often the serving thread checks for `stop` (the standard library's default is 0.5 s)."""


class _Handler(SimpleHTTPRequestHandler):
    """Static files, never cached by intermediaries, with no request log on stderr."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: a device polls often."""


class RepositoryServer:
    """An HTTP server for one repository directory, running in a daemon thread."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = partial(_Handler, directory=str(directory))
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_S},
            name="governance-http",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:43127``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RepositoryServer:
        """Start serving in the background; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> RepositoryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
