"""The browser app and the offline API docs, served by the API process.

The app is a single-page app built from `web/` (SvelteKit, adapter-static) into
`studio/web/app/`: hashed files under `/_app/immutable/` are cached for a year, every
other path that is not the API's answers the app's `index.html` (no-cache), so
client-side routes such as `/chat/<id>` survive a reload. `/docs` is Swagger UI from
the same build (copied from the `swagger-ui-dist` package), so it works offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from studio.http.errors import ApiError

APP_DIR = Path(__file__).parent / "app"

# The app runs no inline script (the build moves SvelteKit's bootstrap into a file) and
# sets no inline style, so everything comes from 'self'. One exception, named by hash:
# SvelteKit's route announcer (for screen readers) has a fixed style attribute; the
# build writes its sha256 to csp.json and only that value is allowed ('unsafe-hashes'
# applies to attributes only, never to <style> or script). blob: for downloads the app
# builds, data: for the favicon.
APP_CSP_TEMPLATE = ("default-src 'self'; script-src 'self'; style-src 'self'{style_hashes}; "
                    "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; "
                    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def app_csp(app_dir: Path) -> str:
    """The app's policy, with the style attribute hashes its build recorded."""
    try:
        hashes = json.loads((app_dir / "csp.json").read_text())["style_attribute_hashes"]
    except (OSError, ValueError, KeyError):
        hashes = []
    allowed = [h for h in hashes if isinstance(h, str) and re.fullmatch(r"sha256-[A-Za-z0-9+/]+=*", h)]
    extra = " 'unsafe-hashes' " + " ".join(f"'{h}'" for h in allowed) if allowed else ""
    return APP_CSP_TEMPLATE.format(style_hashes=extra)


# Swagger UI sets style attributes from its React components and draws icons as data:
# SVGs; its script is still 'self' only.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "Cross-Origin-Opener-Policy": "same-origin"}

# Paths the API owns: an unknown path under them is the API's 404, never the app.
API_PREFIXES = ("v1/", "v1", "s/", "static/", "_app/", "docs-assets/", "metrics", "healthz", "readyz",
                "openapi.json", "docs")

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Studio</title>
<link rel="stylesheet" href="/static/share.css"></head>
<body><main><h1>Studio is running, but its web app is not built</h1>
<p>Run <code>make up</code> from the repository (it builds the app when its sources change),
or build it by hand: <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The API is up: <a href="/docs">/docs</a>, <a href="/readyz">/readyz</a>.</p></main></body></html>
"""


IMMUTABLE = "public, max-age=31536000, immutable"


class BuildFiles(StaticFiles):
    """Build output. Only content-hashed files (under `immutable_under`; their name
    changes when their bytes do) are cached for a year; any other file, such as
    `/_app/version.json` or Swagger UI's fixed names, is revalidated on every use
    (its ETag makes that a 304), so an upgrade reaches browsers at once."""

    def __init__(self, *, directory: Path, immutable_under: str | None) -> None:
        super().__init__(directory=directory)
        self.immutable_under = immutable_under

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        hashed = self.immutable_under is not None and path.startswith(self.immutable_under)
        response.headers["Cache-Control"] = IMMUTABLE if hashed else "no-cache"
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI, *, docs: bool) -> None:
    """Mounts the app's assets and, registered last, the fallback to its index."""
    index = APP_DIR / "index.html"
    policy = app_csp(APP_DIR)
    if (APP_DIR / "_app").is_dir():
        app.mount("/_app", BuildFiles(directory=APP_DIR / "_app", immutable_under="immutable/"), name="app-assets")
    if docs and (APP_DIR / "docs-assets").is_dir():
        app.mount("/docs-assets", BuildFiles(directory=APP_DIR / "docs-assets", immutable_under=None),
                  name="docs-assets")

    if docs:
        @app.get("/docs", include_in_schema=False)
        async def api_docs() -> HTMLResponse:
            return HTMLResponse(_DOCS, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache",
                                                **SECURITY_HEADERS})

    @app.get("/favicon.svg", include_in_schema=False)
    async def favicon() -> Response:
        path = APP_DIR / "favicon.svg"
        if not path.is_file():
            raise ApiError(404, "not_found", "no such page")
        return FileResponse(path, media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400", **SECURITY_HEADERS})

    # Not a route: the router's default, reached only when no route matches the path at
    # all, so the API's own 404s and 405s stay as they are.
    api_not_found = app.router.default

    async def single_page_app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lstrip("/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or path.startswith(API_PREFIXES):
            await api_not_found(scope, receive, send)
            return
        headers = {"Content-Security-Policy": policy, "Cache-Control": "no-cache", **SECURITY_HEADERS}
        response: Response = (FileResponse(index, media_type="text/html; charset=utf-8", headers=headers)
                              if index.is_file() else HTMLResponse(_NOT_BUILT, headers=headers))
        await response(scope, receive, send)

    app.router.default = single_page_app

_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Studio API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
<link rel="stylesheet" href="/docs-assets/studio-docs.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-assets/swagger-init.js"></script>
</body></html>
"""
