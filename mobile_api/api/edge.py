"""Checks at the HTTP edge, before authentication, schemas or services see a request.

Some input is valid JSON or a valid URL and still cannot be processed safely
further in: a lone UTF-16 surrogate cannot be encoded as UTF-8 (password
hashing, the database driver and the response encoder all fail on it), U+0000
cannot be stored in a PostgreSQL text column, and JSON nested very deep makes
the recursive parsers raise ``RecursionError``. Each would surface as a 500;
refusing them once here gives a 4xx problem+json for every route at once.

Every response also gets the headers a medical-data API owes its clients: no
caching of anything under ``/api/v1`` (personal data and tokens), and no MIME
sniffing anywhere.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request

from .problems import EXTRA_SLUGS, HTTP_TITLES_JA, problem_response

#: Deeper JSON than this is refused. The deepest legitimate body (fallback evidence → declaration →
#: birth date) is 3 levels; 32 leaves room and stays far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 32
NO_STORE_PREFIX = "/api/v1"

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
# A string runs to its closing quote, or (malformed) to the end: never rescanned, so the scan stays linear.
# Runs of ordinary characters are taken whole (``[^"\\]++``), not one alternation per character: a card's
# certificate is 2 KB of base64 in one string.
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)

DEPTH_TITLE = EXTRA_SLUGS["json-too-deep"]
STRING_DETAIL = "使用できない文字（NUL または不正なサロゲート）が含まれています。"


def json_depth(raw: bytes) -> int:
    """The maximum nesting depth of ``raw`` JSON, counted without parsing (so without recursion).

    Brackets inside strings are skipped; malformed input is left to the parser to refuse.
    """
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def _pointer_segment(key: Any) -> str:
    text = str(key).replace("~", "~0").replace("/", "~1")
    # Show a forbidden character as its escape, never as itself: the answer must be encodable too.
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def forbidden_strings(document: Any, root: str = "") -> Iterator[str]:
    """JSON pointers of every string (key or value) in ``document`` that has a forbidden character.

    Iterative, so a document that passed the depth check cannot exhaust the stack here either.
    """
    stack: list[tuple[str, Any]] = [(root, document)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, str):
            if _FORBIDDEN.search(value):
                yield pointer or "/"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{pointer}/{_pointer_segment(key)}"
                if isinstance(key, str) and _FORBIDDEN.search(key):
                    yield child
                else:
                    stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{index}", item) for index, item in enumerate(value))


def _refuse_strings(found: list[str]) -> Response:
    slug, title = HTTP_TITLES_JA[422]
    return problem_response(422, slug, title, STRING_DETAIL,
                            errors=[{"pointer": pointer, "detail": STRING_DETAIL} for pointer in sorted(found)])


def check_request() -> Response | None:
    """Refuse what no route can process; ``None`` lets the request through."""
    if request.routing_exception is not None:
        return None  # 404/405 answer as they are
    found = [*_forbidden_in_url_and_headers(), *_forbidden_in_upload()]
    if request.is_json:
        checked = _check_json()
        if isinstance(checked, Response):
            return checked
        found += checked
    return _refuse_strings(list(dict.fromkeys(found))) if found else None


def _forbidden_in_url_and_headers() -> Iterator[str]:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and _FORBIDDEN.search(value):
            yield f"/path/{_pointer_segment(name)}"
    for name, value in request.args.items(multi=True):
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(value):
            yield f"/query/{_pointer_segment(name)}"
    for name, value in request.headers.items():
        if _FORBIDDEN.search(value):
            yield f"/headers/{_pointer_segment(name)}"


def _forbidden_in_upload() -> Iterator[str]:
    """An upload's fields and file names (its content is the route's)."""
    if request.mimetype != "multipart/form-data":
        return
    for name, value in request.form.items(multi=True):
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(value):
            yield f"/form/{_pointer_segment(name)}"
    for name, upload in request.files.items(multi=True):
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(upload.filename or ""):
            yield f"/files/{_pointer_segment(name)}"


def _check_json() -> Response | list[str]:
    """A JSON body: 400 when nested deeper than ``MAX_JSON_DEPTH``, else the pointers of its forbidden strings."""
    raw = request.get_data(cache=True)
    if not raw:
        return []
    if json_depth(raw) > MAX_JSON_DEPTH:
        return problem_response(400, "json-too-deep", DEPTH_TITLE, f"JSON の入れ子は {MAX_JSON_DEPTH} 段までです。")
    try:
        # Parsed once for the request: Flask caches it for every later get_json (api.core.request_json).
        # Malformed JSON gives None here; the schema layer answers 400 malformed-json.
        document = request.get_json(silent=True)
    except RecursionError:  # pragma: no cover - the depth check comes first
        return problem_response(400, "json-too-deep", DEPTH_TITLE)
    return list(forbidden_strings(document))


def add_safety_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path == NO_STORE_PREFIX or request.path.startswith(NO_STORE_PREFIX + "/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def add_server_time(response: Response) -> Response:
    """The server's one clock on every answer (``Server-Time``, ISO 8601 UTC, ms): devices measure their
    clock's offset from it and use the server's time for assertions and expiries (docs/rules.md, issue 19).
    The standard ``Date`` header comes from the HTTP server's wall clock and has only whole seconds."""
    now = current_app.extensions["mobile_api"].clock()
    response.headers["Server-Time"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return response


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.after_request(add_safety_headers)
    app.after_request(add_server_time)
