"""The API with each request's CPU inside the WSGI app in a response header (bench/_gap.py).

    gunicorn -c deploy/gunicorn.conf.py 'bench._timed_app:create()'

``X-App-CPU-us``: the thread CPU time (``time.thread_time``) from the moment the server handed the request to
the app until the app returned its response: the hooks, the view, the JSON body and the teardown (the response
is started only then, which WSGI allows before the first byte of the body); not the server's parsing, writing
and keep-alive handling. The same wrapper runs in process (the Flask test client) and under
gunicorn, so the two figures compare the same code path and what lies outside it is the server's.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from mobile_api import create_app

HEADER = "X-App-CPU-us"


def timed(app: Flask) -> Flask:
    inner = app.wsgi_app

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.thread_time()
        answer: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            answer[:] = [status, headers, exc_info]
            return lambda _chunk: None  # never used: Flask returns its body as an iterable

        body = inner(environ, start)
        status, headers, exc_info = answer
        start_response(status, [*headers, (HEADER, str(round((time.thread_time() - started) * 1e6)))], exc_info)
        return body

    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app


def create(**overrides: Any) -> Flask:
    return timed(create_app(overrides or None))
