"""Swagger UI's files served by this app (``/api/docs`` works offline, behind a firewall, with no CDN).

The assets come from the pinned ``flask-swagger-ui`` package (its ``dist/`` is the swagger-ui-dist release
of the same version); flask-smorest's page loads them from ``OPENAPI_SWAGGER_UI_URL``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, send_from_directory

ASSETS_URL = "/api/docs/assets/"


def dist_folder() -> Path | None:
    try:
        import flask_swagger_ui
    except ImportError:
        return None
    folder = Path(flask_swagger_ui.__file__).parent / "dist"
    return folder if folder.is_dir() else None


def init_app(app: Flask) -> None:
    folder = dist_folder()
    assets = Blueprint("swagger_ui_assets", __name__)

    @assets.get(ASSETS_URL + "<path:filename>")
    def asset(filename: str) -> Any:
        if folder is None:
            abort(404)
        response = send_from_directory(folder, filename, max_age=86400)
        return response

    app.register_blueprint(assets)
