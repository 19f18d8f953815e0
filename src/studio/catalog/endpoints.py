"""The admins' catalog API: /v1/admin/connections and /v1/admin/models. Anyone but an
admin gets 404 from every route, as if it did not exist."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from studio.auth import service as auth
from studio.catalog import service
from studio.catalog.schemas import (
    AdminModel,
    AdminModelList,
    Connection,
    ConnectionCreate,
    ConnectionDeleted,
    ConnectionList,
    ConnectionTest,
    ConnectionUpdate,
    KindList,
    ModelCreate,
    ModelImport,
    ModelUpdate,
    SuggestionList,
    UpstreamModelList,
)
from studio.http.deps import CipherDep, ConnectionRuntimeDep, Cred, Ctx, Db, ProvidersDep, SettingsDep
from studio.http.responses import json_response

ADMIN_ONLY: dict[int | str, dict[str, Any]] = {401: {"description": "not signed in"},
              404: {"description": "not found, or not an admin (as if the endpoint did not exist)"}}
async def admins_only(db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> None:
    """Before the body or the path is even parsed: to anyone but an admin these routes
    do not exist, so a bad request must not reveal them either (404, not 422); an admin
    without the two-factor authentication the installation requires gets 403."""
    async with db.as_user(cred, ctx) as tx:
        await auth.require_admin(tx, settings)


router = APIRouter(prefix="/v1/admin", tags=["admin: connections and models"], responses=ADMIN_ONLY,
                   dependencies=[Depends(admins_only)])


@router.get("/connection-kinds", response_model=KindList)
async def connection_kinds(db: Db, ctx: Ctx, cred: Cred) -> Response:
    """The kinds of connection Studio speaks, each with its default base URL and whether it needs a key."""
    async with db.as_user(cred, ctx) as tx:
        service.require_admin(tx)
    return json_response({"items": service.kinds()})


@router.get("/connections", response_model=ConnectionList)
async def list_connections(db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        rows = await service.list_connections(tx, providers)
    return json_response({"items": rows}, headers={"Cache-Control": "no-store"})


@router.get("/connections/suggestions", response_model=SuggestionList)
async def connection_suggestions(db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Servers found running that no connection points at yet (an Ollama on this machine)."""
    async with db.as_user(cred, ctx) as tx:
        items = await service.suggestions(tx, settings)
    return json_response({"items": items}, headers={"Cache-Control": "no-store"})


@router.post("/connections", status_code=201, response_model=Connection,
             responses={409: {"description": "the name is taken"},
                        503: {"description": "STUDIO_CREDENTIALS_KEY is not set: a key cannot be stored"}})
async def create_connection(body: ConnectionCreate, db: Db, ctx: Ctx, cred: Cred, cipher: CipherDep,
                            runtime: ConnectionRuntimeDep) -> Response:
    """Adds a connection. Its API key is stored encrypted and never returned: responses
    show its last 4 characters. Every API and worker process uses it within seconds."""
    async with db.as_user(cred, ctx) as tx:
        row = await service.create_connection(tx, cipher, body)
    await runtime.refresh()
    return json_response({**row, "status": runtime.providers.connection_problem(row["id"])}, 201,
                         headers={"Location": f"/v1/admin/connections/{row['id']}", "Cache-Control": "no-store"})


@router.get("/connections/{connection_id}", response_model=Connection)
async def get_connection(connection_id: UUID, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await service.get_connection(tx, providers, connection_id=connection_id)
    return json_response(row, headers={"Cache-Control": "no-store"})


@router.patch("/connections/{connection_id}", response_model=Connection,
              responses={409: {"description": "the name is taken"},
                         503: {"description": "STUDIO_CREDENTIALS_KEY is not set: a key cannot be stored"}})
async def update_connection(connection_id: UUID, body: ConnectionUpdate, db: Db, ctx: Ctx, cred: Cred,
                            cipher: CipherDep, runtime: ConnectionRuntimeDep) -> Response:
    """Changes a connection; `api_key`: a new key replaces the stored one, null removes
    it, leaving it out keeps it. `enabled: false` stops its models at once, everywhere."""
    async with db.as_user(cred, ctx) as tx:
        row = await service.update_connection(tx, cipher, connection_id=connection_id, body=body)
    await runtime.refresh()
    return json_response({**row, "status": runtime.providers.connection_problem(row["id"])},
                         headers={"Cache-Control": "no-store"})


@router.delete("/connections/{connection_id}", response_model=ConnectionDeleted)
async def delete_connection(connection_id: UUID, db: Db, ctx: Ctx, cred: Cred, runtime: ConnectionRuntimeDep) -> Response:
    """Removes a connection and the models registered on it (past generations and
    messages stay, without a model)."""
    async with db.as_user(cred, ctx) as tx:
        removed = await service.delete_connection(tx, connection_id=connection_id)
    await runtime.refresh()
    return json_response({"deleted": True, "models_removed": removed})


@router.post("/connections/{connection_id}/test", response_model=ConnectionTest)
async def test_connection(connection_id: UUID, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                          runtime: ConnectionRuntimeDep) -> Response:
    """Asks the connection's server for its models with the stored settings; a failure is
    the answer (`ok: false` and why), not an error."""
    async with db.as_user(cred, ctx) as tx:
        row = await service.get_connection(tx, providers, connection_id=connection_id)
    return json_response(await service.test_connection(runtime, row))


@router.get("/connections/{connection_id}/upstream-models", response_model=UpstreamModelList,
            responses={409: {"description": "the connection is disabled or unusable, or cannot list models"},
                       502: {"description": "the server did not answer as expected"}})
async def upstream_models(connection_id: UUID, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                          runtime: ConnectionRuntimeDep) -> Response:
    """What the connection's server offers (OpenAI-style GET /models, Ollama's tags, ...),
    each with the types already registered for it."""
    async with db.as_user(cred, ctx) as tx:
        row = await service.get_connection(tx, providers, connection_id=connection_id)
        items = await service.upstream_models(tx, runtime, row)
    return json_response({"items": items})


@router.post("/connections/{connection_id}/models", status_code=201, response_model=AdminModelList,
             responses={409: {"description": "one of them is registered already"}})
async def import_models(connection_id: UUID, body: ModelImport, db: Db, ctx: Ctx, cred: Cred,
                        providers: ProvidersDep) -> Response:
    """Registers upstream models of the connection in one step (all or none)."""
    async with db.as_user(cred, ctx) as tx:
        rows = await service.import_models(tx, providers, connection_id=connection_id, body=body)
    return json_response({"items": rows}, 201)


@router.get("/models", response_model=AdminModelList)
async def list_models(db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                      connection_id: UUID | None = None) -> Response:
    """Every registered model, disabled ones too, with its connection and whether it can run."""
    async with db.as_user(cred, ctx) as tx:
        rows = await service.list_models(tx, providers, connection_id=connection_id)
    return json_response({"items": rows})


@router.post("/models", status_code=201, response_model=AdminModel,
             responses={409: {"description": "the slug, or this upstream model of this type, is taken"}})
async def create_model(body: ModelCreate, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await service.create_model(tx, providers, body)
    return json_response(row, 201, headers={"Location": f"/v1/admin/models/{row['id']}"})


@router.patch("/models/{model_id}", response_model=AdminModel, responses={409: {"description": "the slug is taken"}})
async def update_model(model_id: UUID, body: ModelUpdate, db: Db, ctx: Ctx, cred: Cred,
                       providers: ProvidersDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        row = await service.update_model(tx, providers, model_id=model_id, body=body)
    return json_response(row)


@router.delete("/models/{model_id}", status_code=204)
async def delete_model(model_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        await service.delete_model(tx, model_id=model_id)
    return Response(status_code=204)
