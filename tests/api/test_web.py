"""How the API serves the browser app and the offline API docs: the index for every
client-side route with the strict security headers, hashed assets cached for a year,
the API's own paths never answered by the app, and /docs from Studio's own files.

`make test` builds the app first (scripts/build_web.sh); without a build these tests
fail and say how to build it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from studio.config import API_ROLE
from studio.web import APP_DIR
from tests.api.conftest import Server, make_settings, serve

INDEX = APP_DIR / "index.html"
YEAR = "public, max-age=31536000, immutable"


@pytest.fixture(autouse=True)
def app_is_built() -> None:
    if not INDEX.is_file():
        pytest.fail(f"the web app is not built ({INDEX.relative_to(APP_DIR.parents[3])} is missing): "
                    "run `make test`, or scripts/build_web.sh, first")


class Page(HTMLParser):
    """Every element's tag and attributes, and the text inside each <script>/<style>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[tuple[str, str]] = []
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and data.strip():
            self.inline.append((self._open, data))

    def urls(self) -> list[str]:
        return [url for tag, attrs in self.elements for key in ("src", "href")
                if tag in ("script", "link", "img") and (url := attrs.get(key))]


def csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


def assert_json_error(response: httpx.Response, status: int | tuple[int, ...]) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert "error" in response.json()


@pytest.mark.parametrize("path", ["/", "/chat/123", "/gallery?type=image", "/account/keys/"])
def test_every_client_route_answers_the_index_under_a_strict_policy(server: Server, path: str) -> None:
    with server.client() as client:
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.content == INDEX.read_bytes()
        assert r.headers["Cache-Control"] == "no-cache"
        assert_security_headers(r)
        policy = csp(r)
        assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other origin
        # Style from Studio's files, plus exactly the style attribute of SvelteKit's route
        # announcer, by hash (the build records it): no 'unsafe-inline'.
        announcer = json.loads((INDEX.parent / "csp.json").read_text())["style_attribute_hashes"]
        assert len(announcer) == 1
        assert policy["style-src"] == ["'self'", "'unsafe-hashes'", f"'{announcer[0]}'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["connect-src"] == ["'self'"]

        head = client.head(path)
        assert head.status_code == 200 and head.headers["Cache-Control"] == "no-cache"


def test_the_index_runs_no_inline_script_or_style_and_loads_only_its_own_files(server: Server) -> None:
    page = Page(INDEX.read_text())
    assert page.inline == [], "inline <script>/<style> content is refused by the CSP"
    assert not [tag for tag, attrs in page.elements if "style" in attrs], "style= attributes are refused by the CSP"
    assert not [tag for tag, attrs in page.elements if any(key.startswith("on") for key in attrs)]
    scripts = [attrs for tag, attrs in page.elements if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    urls = page.urls()
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls

    with server.client() as client:
        for url in urls:
            r = client.get(url)
            assert r.status_code == 200, url
            if url.startswith("/_app/immutable/"):
                assert r.headers["Cache-Control"] == YEAR, url
                assert_security_headers(r)
            if url.endswith(".js"):
                assert "javascript" in r.headers["content-type"], url
            if url.endswith(".css"):
                assert r.headers["content-type"].startswith("text/css"), url


def test_hashed_assets_are_cached_for_a_year_and_the_rest_revalidated(server: Server) -> None:
    assets = sorted(p for p in (APP_DIR / "_app" / "immutable").rglob("*") if p.is_file())
    assert assets
    with server.client() as client:
        for asset in assets[:5]:
            r = client.get("/" + asset.relative_to(APP_DIR).as_posix())
            assert r.status_code == 200
            assert r.headers["Cache-Control"] == YEAR
            assert r.content == asset.read_bytes()

        # Not content-hashed: SvelteKit reads it to notice a new version.
        if (APP_DIR / "_app" / "version.json").is_file():
            r = client.get("/_app/version.json")
            assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"

        assert_json_error(client.get("/_app/immutable/entry/no-such-file.js"), 404)
        favicon = client.get("/favicon.svg")
        assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")


def test_the_api_paths_keep_their_meaning(server: Server) -> None:
    with server.client() as client:
        for path in ("/v1/no-such-thing", "/v1", "/v1/", "/static/no-such.css", "/docs-assets/no-such.js"):
            assert_json_error(client.get(path), 404)
        assert client.get("/healthz").headers["content-type"].startswith("application/json")
        shared = client.get("/s/no-such-link")
        assert shared.status_code == 404 and shared.content != INDEX.read_bytes()
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_an_unsafe_request_to_a_client_route_is_a_json_error_not_the_app(server: Server, method: str) -> None:
    with server.client() as client:
        assert_json_error(client.request(method, "/chat/123", json={}), (404, 405))


def test_the_api_docs_work_offline(server: Server) -> None:
    with server.client() as client:
        r = client.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "http://" not in r.text and "https://" not in r.text
        assert_security_headers(r)
        policy = csp(r)
        assert policy["script-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        page = Page(r.text)
        assert page.inline == []
        urls = page.urls()
        assert urls and all(url.startswith("/docs-assets/") for url in urls), urls
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and asset.content, url
            # Fixed names: revalidated, so an upgrade of Swagger UI reaches browsers.
            assert asset.headers["Cache-Control"] == "no-cache"
        init = client.get("/docs-assets/swagger-init.js")
        assert init.status_code == 200
        assert "'/openapi.json'" in init.text and "validatorUrl: null" in init.text

        spec = client.get("/openapi.json")
        assert spec.status_code == 200
        assert spec.json()["openapi"].startswith("3.") and "/v1/auth/login" in spec.json()["paths"]


@pytest.fixture
def production_server(pg, db, tmp_path, request) -> Iterator[Server]:
    settings = make_settings(env="production", home=tmp_path, **getattr(request, "param", {}))
    yield from serve(settings, pg.conninfo(API_ROLE, db))


def test_production_serves_no_api_docs_unless_enabled(production_server: Server) -> None:
    assert not production_server.settings.docs_enabled
    with production_server.client() as client:
        for path in ("/docs", "/openapi.json", "/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-init.js"):
            assert_json_error(client.get(path), 404)
        app = client.get("/chat/1")  # the app itself is served as anywhere
        assert app.status_code == 200 and app.content == INDEX.read_bytes()


@pytest.mark.parametrize("production_server", [{"api_docs": True}], indirect=True)
def test_production_serves_the_api_docs_when_enabled(production_server: Server) -> None:
    assert production_server.settings.docs_enabled
    with production_server.client() as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Studio"


def test_the_login_and_chat_pages_stay_within_the_budget() -> None:
    budget = APP_DIR / "budget.json"
    assert budget.is_file(), "the build writes budget.json (web/scripts/postbuild.mjs)"
    report = json.loads(budget.read_text())
    assert report["limit_kb"] == 250
    pages = {page["route"]: page for page in report["pages"]}
    assert set(pages) == {"/login", "/chat"}
    for route, page in pages.items():
        assert 0 < page["gzip"] <= report["limit_kb"] * 1024, f"{route}: {page['gzip']} bytes gzipped"
        assert page["files"] > 0
