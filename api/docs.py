"""The interactive API docs (Swagger UI at ``/schema/swagger``), with every asset served here.

Litestar's renderers load their scripts, styles and favicon from a CDN by
default: a docs page that pulls code from a third party at every visit, and
breaks without internet access. The ``swagger-ui-bundle`` package ships
Swagger UI's built files; they are served under ``/schema/assets`` and the
page names only those.
"""

from __future__ import annotations

from litestar import Router
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/schema/assets"


def docs_renderer() -> SwaggerRenderPlugin:
    """Swagger UI whose page loads only from :data:`ASSETS`."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def docs_assets() -> Router:
    """The route serving Swagger UI's files (kept out of the schema itself)."""
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_path], include_in_schema=False
    )
