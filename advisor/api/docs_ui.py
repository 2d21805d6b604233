"""``/docs`` without the internet: Swagger UI's files served by the service itself.

Litestar's render plugins load their script, style sheet and favicon from a CDN by default, which
leaves ``/docs`` blank on an air-gapped network. The assets come from the ``swagger-ui-bundle-v2``
package (Swagger UI 5, which reads OpenAPI 3.1) and are served under ``/docs/assets``.
"""

from __future__ import annotations

from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from advisor.api.access import PUBLIC_OPT

ASSETS = "/docs/assets"


def swagger_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at ``/docs`` and ``/docs/swagger``, every URL it loads on this origin."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )


def assets_router() -> Router:
    """The package's files, public like the documents (no key needed to read the API's docs)."""
    return create_static_files_router(path=ASSETS, directories=[Path(str(swagger_ui_path))], opt={PUBLIC_OPT: True},
                                      include_in_schema=False, name="docs-assets")
