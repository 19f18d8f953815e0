"""The OpenAPI document tells the truth: every operation declares the error statuses it
can answer, each with the one error shape, and a 405 says which methods the path takes.

The statuses follow from what a route is made of, so a new endpoint inherits them:

* a parameter or a body: 422 (validation_error); a body: 400 (malformed_json, or
  malformed_form for a multipart one);
  a `cursor` or `last_event_id` parameter: 400 (a value this API never issued);
* a method with a body (POST, PUT, PATCH, DELETE): 413 and 415, from RequestGuard;
* the caller's credential (deps.credential): 401, and 403 for a cookie without its CSRF
  token on an unsafe method;
* a path parameter, or a body naming other resources: 404 (another user's resource
  answers 404 as if it did not exist, K5);
* the database (deps.Db): 503 when it is unavailable or the pool is exhausted.

What only the endpoint knows (409 for a conflict, 429 for a rate limit, 502 for a
provider) it declares itself, in its decorator's `responses`; a description given there
is kept, and gains the error schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSAFE_METHODS = _BODY_METHODS
_ISSUED_VALUE_PARAMS = frozenset({"cursor", "last_event_id"})


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable, e.g. not_found, validation_error, rate_limited")
    message: str = Field(description="for people; never the offending input")
    details: Any = Field(None, description="for validation errors: where and what, per field")


class ErrorBody(BaseModel):
    """Every error Studio answers, whatever its status."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id)",
    401: "not signed in, or the session or API key is not valid",
    403: "a session cookie without its X-CSRF-Token on an unsafe method",
    404: "not found, or not the caller's",
    405: "the path does not take this method (the Allow header lists those it takes)",
    409: "conflicts with the current state",
    413: "the request body is too large",
    415: "the request body is not of a type this endpoint takes",
    416: "the Range header asks for bytes the file does not have",
    422: "a value is not valid (details say which)",
    429: "too many requests: wait for Retry-After",
    502: "the provider failed or could not be reached",
    503: "the database or the file store is unavailable or busy: retry after Retry-After",
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": _DESCRIPTIONS[429]}}
RANGES: dict[int | str, dict[str, Any]] = {206: {"description": "the part the Range header asked for"},
                                           416: {"description": _DESCRIPTIONS[416]}}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
        found |= _calls(sub)
    return found


def error_statuses(route: APIRoute, method: str, *, credential: Callable[..., Any],
                   database: Callable[..., Any]) -> set[int]:
    """The statuses the shared machinery can answer for this operation (see the module)."""
    dependant = route.dependant
    calls = _calls(dependant)
    params = [*dependant.path_params, *dependant.query_params, *dependant.header_params, *dependant.cookie_params]
    for sub in dependant.dependencies:
        params += [*sub.path_params, *sub.query_params, *sub.header_params, *sub.cookie_params]
    has_body = bool(dependant.body_params)
    statuses: set[int] = set()
    if params or has_body:
        statuses.add(422)
    if has_body or any(p.name in _ISSUED_VALUE_PARAMS for p in params):
        statuses.add(400)
    if method in _BODY_METHODS:
        statuses |= {413, 415}
    if credential in calls:
        statuses.add(401)
        if method in _UNSAFE_METHODS:
            statuses.add(403)
        if has_body:
            statuses.add(404)
    if route.param_convertors:
        statuses.add(404)
    if database in calls:
        statuses.add(503)
    return statuses


def document_errors(app: FastAPI, *, credential: Callable[..., Any], database: Callable[..., Any]) -> None:
    """Replace app.openapi with one that adds the error responses (built once, cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorDetail"] = ErrorDetail.model_json_schema(ref_template="#/components/schemas/{model}")
        components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components["ErrorBody"].pop("$defs", None)
        error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema or context.path_format is None:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(context.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                statuses = error_statuses(route, method, credential=credential, database=database)
                if "requestBody" in operation:
                    # A body the endpoint reads itself (a multipart form, a raw file) can be
                    # malformed too (400 malformed_form, for one).
                    statuses |= {400, 413, 415}
                for status in statuses:
                    responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
                for status, response in responses.items():
                    if status[0] in "45" and "content" not in response or status == "422":
                        response["content"] = error_content
                    if status[0] in "45" and response.get("description") in (None, "", "Validation Error"):
                        response["description"] = _DESCRIPTIONS.get(int(status), "error")
        # FastAPI's own validation error shape is not what Studio answers (ErrorBody is).
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """The methods the document gives `path`, or None when it has no such path. A
    literal path wins over a template (`/v1/notifications/read-all` is not a
    notification id), as it does in routing."""
    templates: list[tuple[re.Pattern[str], bool, list[str]]] | None = getattr(app.state, "path_templates", None)
    if templates is None:
        templates = []
        for template, operations in app.openapi()["paths"].items():
            pattern = re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)))
            templates.append((pattern, "{" in template, [method.upper() for method in operations]))
        app.state.path_templates = templates
    literal: set[str] = set()
    patterned: set[str] = set()
    for pattern, has_params, methods in templates:
        if pattern.fullmatch(path):
            (patterned if has_params else literal).update(methods)
    found = literal or patterned
    if not found:
        return None
    if "GET" in found:
        found.add("HEAD")
    return sorted(found)
