"""The real server app on a real loopback socket, recording what crosses the wire."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.serving import make_server


@dataclass
class Wire:
    """Every request the server received: method, path and raw body."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    def paths(self, prefix: str = "") -> list[str]:
        return [f"{m} {p}" for m, p, _ in self.requests if p.startswith(prefix)]

    def clear(self) -> None:
        self.requests.clear()


class _Recorder:
    def __init__(self, app: Any, wire: Wire) -> None:
        self.app, self.wire = app, wire

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        self.wire.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        return self.app(environ, start_response)


@contextmanager
def serve(app: Flask) -> Iterator[tuple[str, Wire]]:
    wire = Wire()
    app.wsgi_app = _Recorder(app.wsgi_app, wire)  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", wire
    finally:
        server.shutdown()
        thread.join(timeout=5)
