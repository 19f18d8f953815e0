"""The catalog's rules: connections (what each kind needs, keys encrypted, shown by their
last 4 characters), testing and discovering what a connection's server offers, the
models admins register on them, and seeding connections from the environment.

Admins only: every function taking a user's scope answers 404 to anyone else, as if the
admin API did not exist (RLS would show them nothing anyway)."""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

import httpx
import psycopg

from studio.catalog import repository as repo
from studio.catalog.crypto import CredentialCipher, CredentialsUnavailable, UndecryptableKey, last4
from studio.catalog.runtime import ConnectionRuntime
from studio.catalog.schemas import (
    ConnectionCreate,
    ConnectionUpdate,
    HostedTraining,
    ModelCreate,
    ModelImport,
    ModelUpdate,
)
from studio.config import Settings
from studio.db.scopes import UserScope
from studio.generation.schemas import voices_of
from studio.http.errors import ApiError, not_found
from studio.providers.base import ProviderError
from studio.providers.registry import KINDS, LOCAL_PROVIDERS, Providers, connections_from_environment

log = logging.getLogger("studio.catalog")

# Prices, kept in model_registry.config: per generation (the cost caps), per million chat tokens.
PRICE_KEYS = ("cost_cents", "input_cents_per_mtok", "output_cents_per_mtok")
DEFAULT_CAPABILITIES = {"chat": ["chat"], "image": ["image"], "audio": ["speech"], "video": ["video"]}
OLLAMA_LOCAL = "http://127.0.0.1:11434"


def require_admin(tx: UserScope) -> None:
    if not tx.user.is_admin:
        raise not_found()


def kinds() -> list[dict[str, Any]]:
    return [{"kind": k.name, "label": k.label, "default_base_url": k.default_base_url, "api_key": k.key,
             "chat": k.chat is not None, "media_types": sorted(k.media_types), "lists_models": k.lists_models}
            for k in KINDS.values()]


def _shown(row: dict[str, Any], providers: Providers) -> dict[str, Any]:
    return {**row, "status": providers.connection_problem(row["id"])}


# -- connections -------------------------------------------------------------------------------


async def list_connections(tx: UserScope, providers: Providers) -> list[dict[str, Any]]:
    require_admin(tx)
    return [_shown(row, providers) for row in await repo.list_connections(tx)]


async def get_connection(tx: UserScope, providers: Providers, *, connection_id: UUID) -> dict[str, Any]:
    require_admin(tx)
    row = await repo.get_connection(tx, connection_id=connection_id)
    if row is None:
        raise not_found("connection")
    return _shown(row, providers)


def _encrypted(cipher: CredentialCipher, api_key: str) -> tuple[bytes, str]:
    try:
        return cipher.encrypt(api_key), last4(api_key)
    except CredentialsUnavailable as exc:
        raise ApiError(503, "credentials_key_missing", str(exc)) from None


async def create_connection(tx: UserScope, cipher: CredentialCipher, body: ConnectionCreate) -> dict[str, Any]:
    require_admin(tx)
    kind = KINDS[body.kind]
    if kind.key == "required" and not body.api_key:
        raise ApiError(422, "validation_error", f"api_key: a {kind.label} connection needs an API key")
    encrypted, hint = _encrypted(cipher, body.api_key) if body.api_key else (None, None)
    base_url = (body.base_url or kind.default_base_url).rstrip("/")
    names = {row["name"] for row in await repo.list_connections(tx)}
    name = body.name or next(n for n in (body.kind, *(f"{body.kind}-{i}" for i in range(2, 1000))) if n not in names)
    try:
        return await repo.create_connection(tx, name=name, kind=body.kind, base_url=base_url,
                                            api_key_encrypted=encrypted, api_key_last4=hint, enabled=body.enabled)
    except repo.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None


async def update_connection(tx: UserScope, cipher: CredentialCipher, *, connection_id: UUID,
                            body: ConnectionUpdate) -> dict[str, Any]:
    require_admin(tx)
    current = await repo.get_connection(tx, connection_id=connection_id)
    if current is None:
        raise not_found("connection")
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    for field in ("name", "base_url", "enabled"):
        if field in given:
            value = getattr(body, field)
            if value is None:
                raise ApiError(422, "validation_error", f"{field}: may not be null")
            changes[field] = value.rstrip("/") if field == "base_url" else value
    if "api_key" in given:
        if body.api_key is None and KINDS[current["kind"]].key == "required":
            raise ApiError(422, "validation_error", "api_key: this kind of connection needs an API key; "
                                                    "give a new one instead of removing it")
        encrypted, hint = _encrypted(cipher, body.api_key) if body.api_key else (None, None)
        changes.update(api_key_encrypted=encrypted, api_key_last4=hint)
    try:
        row = await repo.update_connection(tx, connection_id=connection_id, changes=changes)
    except repo.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if row is None:
        raise not_found("connection")
    return row


async def delete_connection(tx: UserScope, *, connection_id: UUID) -> int:
    """How many models went with it."""
    require_admin(tx)
    removed = await repo.delete_connection(tx, connection_id=connection_id)
    if removed is None:
        raise not_found("connection")
    return removed


async def test_connection(runtime: ConnectionRuntime, row: dict[str, Any]) -> dict[str, Any]:
    """Asks the server for its models with the stored settings (re-read first, so the
    test sees what was just saved). A failure is the result, not an error."""
    await runtime.refresh()
    kind = KINDS[row["kind"]]
    if problem := runtime.providers.connection_problem(row["id"]):
        return {"ok": False, "message": problem, "models": None}
    adapter, problem = runtime.providers.connection_chat(row["id"])
    if adapter is None or not kind.lists_models:
        media = runtime.providers.connection_media(row["id"])
        try:
            said = await media.check() if media is not None else None
        except ProviderError as exc:
            return {"ok": False, "message": str(exc), "models": None}
        if said is None:
            return {"ok": None, "message": f"saved; a {kind.label} connection is checked by its first generation",
                    "models": None}
        return {"ok": True, "message": said, "models": None}
    try:
        found = await adapter.list_models()
    except ProviderError as exc:
        return {"ok": False, "message": str(exc), "models": None}
    return {"ok": True, "message": f"connected: the server offers {len(found)} models", "models": len(found)}


async def upstream_models(tx: UserScope, runtime: ConnectionRuntime, row: dict[str, Any]) -> list[dict[str, Any]]:
    """What the connection's server offers, each with the types already registered for it."""
    await runtime.refresh()
    kind = KINDS[row["kind"]]
    if problem := runtime.providers.connection_problem(row["id"]):
        raise ApiError(409, "connection_unusable", f"connection {row['name']!r}: {problem}")
    adapter, _ = runtime.providers.connection_chat(row["id"])
    if adapter is None or not kind.lists_models:
        raise ApiError(409, "not_listable", f"a {kind.label} connection cannot list its models; add them by name "
                                            "(POST /v1/admin/models)")
    try:
        found = await adapter.list_models()
    except ProviderError as exc:
        raise ApiError(502, "provider_error", str(exc)) from None
    registered = await repo.connection_model_names(tx, connection_id=row["id"])
    return [{"name": m.name, "display_name": m.display_name, "capabilities": sorted(m.capabilities),
             "registered_types": sorted(registered.get(m.name, []))} for m in sorted(found, key=lambda m: m.name)]


def _slug_base(connection: str, upstream: str) -> str:
    tail = re.sub(r"[^a-z0-9._/-]+", "-", upstream.lower()).strip("-./") or "model"
    return f"{connection}/{tail}"[:90].rstrip("-./")


async def import_models(tx: UserScope, providers: Providers, *, connection_id: UUID,
                        body: ModelImport) -> list[dict[str, Any]]:
    """Registers upstream models of a connection in one step, with slugs made from the
    connection's name and the upstream name (a suffix where one is taken)."""
    require_admin(tx)
    connection = await repo.get_connection(tx, connection_id=connection_id)
    if connection is None:
        raise not_found("connection")
    kind = KINDS[connection["kind"]]
    taken = await repo.slugs_like(tx, prefix=f"{connection['name']}/")
    rows = []
    for item in body.models:
        _check_type(kind.name, item.type)
        base = _slug_base(connection["name"], item.provider_model)
        slug = base if item.type == "chat" else f"{base}-{item.type}"
        suffix = 2
        while slug in taken:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        taken.add(slug)
        rows.append({"slug": slug, "display_name": item.display_name or item.provider_model, "type": item.type,
                     "provider": kind.name, "provider_model": item.provider_model, "connection_id": connection_id,
                     "capabilities": item.capabilities or DEFAULT_CAPABILITIES[item.type], "enabled": body.enabled})
    try:
        created = await repo.create_models(tx, models=rows)
    except repo.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return [model_out(row, providers) for row in created]


def _check_type(provider: str, type_: str) -> None:
    kind = KINDS.get(provider)
    if kind is None:
        return
    if type_ == "chat" and kind.chat is None:
        raise ApiError(422, "validation_error", f"type: a {kind.label} connection has no chat models")
    if type_ != "chat" and type_ not in kind.media_types:
        raise ApiError(422, "validation_error", f"type: a {kind.label.split(' (')[0]} connection cannot generate "
                                                f"{type_}; it offers {', '.join(sorted(kind.media_types)) or 'chat only'}")


async def suggestions(tx: UserScope, settings: Settings) -> list[dict[str, Any]]:
    """Servers found running where a connection is not configured yet: an Ollama on this
    machine (asked for its tags, briefly)."""
    require_admin(tx)
    base_url = _server_root(settings.ollama_probe_url)
    if any(row["kind"] == "ollama" and _server_root(row["base_url"]) == base_url
           for row in await repo.list_connections(tx)):
        return []
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            reply = await client.get(f"{base_url}/api/tags")
        models = reply.json().get("models") if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return []
    if not isinstance(models, list):
        return []
    return [{"kind": "ollama", "name": "ollama", "base_url": base_url,
             "message": f"Ollama is running at {base_url} with {len(models)} models: add it as a connection"}]


def _server_root(url: str) -> str:
    """An Ollama URL as the adapter uses it: without the /api or /v1 people paste."""
    return url.rstrip("/").removesuffix("/api").removesuffix("/v1").rstrip("/")


# -- models --------------------------------------------------------------------------------


def model_out(row: dict[str, Any], providers: Providers) -> dict[str, Any]:
    reason = providers.unavailable_reason(row) if row["enabled"] else "disabled"
    config = row.pop("config") or {}
    prices = {key: config.get(key) if isinstance(config.get(key), int | float) else None for key in PRICE_KEYS}
    return {**row, **prices, "cost_cents": prices["cost_cents"], "available": reason is None,
            "unavailable_reason": reason, "use_for_titles": config.get("use_for_titles") is True,
            "voices": voices_of(config), "training": config.get("training")}


def _training(provider: str, type_: str, training: HostedTraining | None) -> dict[str, Any]:
    """The hosted trainer as stored in the model's config; only a Replicate image model has one."""
    if training is None:
        return {}
    if (provider, type_) != ("replicate", "image"):
        raise ApiError(422, "validation_error", "training: only a Replicate image model trains LoRAs at its "
                                                "provider (local diffusers models train on the worker)")
    return training.model_dump()


def _voices(type_: str, voices: list[str]) -> list[str]:
    """The voice list as stored: in order, each once; only a speech model has one."""
    if voices and type_ != "audio":
        raise ApiError(422, "validation_error", "voices: only a speech (audio) model has voices")
    return list(dict.fromkeys(voices))


async def list_models(tx: UserScope, providers: Providers, *, connection_id: UUID | None) -> list[dict[str, Any]]:
    require_admin(tx)
    return [model_out(row, providers) for row in await repo.list_models(tx, connection_id=connection_id)]


async def create_model(tx: UserScope, providers: Providers, body: ModelCreate) -> dict[str, Any]:
    require_admin(tx)
    if body.connection_id is None:
        if body.provider not in LOCAL_PROVIDERS:
            raise ApiError(422, "validation_error", "connection_id: required (only the local providers "
                                                    f"{', '.join(sorted(LOCAL_PROVIDERS))} run without one)")
        provider, connection_name = body.provider, "local"
    else:
        connection = await repo.get_connection(tx, connection_id=body.connection_id)
        if connection is None:
            raise not_found("connection")
        if body.provider is not None and body.provider != connection["kind"]:
            raise ApiError(422, "validation_error", f"provider: a model on connection {connection['name']!r} runs "
                                                    f"on its kind, {connection['kind']}")
        provider, connection_name = connection["kind"], connection["name"]
    _check_type(provider, body.type)
    base = _slug_base(connection_name, body.provider_model)
    values = {"slug": body.slug or (base if body.type == "chat" else f"{base}-{body.type}"),
              "display_name": body.display_name or body.provider_model, "type": body.type, "provider": provider,
              "provider_model": body.provider_model, "description": body.description,
              "connection_id": body.connection_id,
              "capabilities": body.capabilities or DEFAULT_CAPABILITIES[body.type],
              "default_params": body.default_params, "enabled": body.enabled,
              "config": {key: getattr(body, key) for key in PRICE_KEYS if getattr(body, key) is not None}
              | ({"voices": _voices(body.type, body.voices)} if body.voices else {})
              | ({"training": _training(provider, body.type, body.training)} if body.training else {})}
    try:
        [row] = await repo.create_models(tx, models=[values])
    except repo.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return model_out(row, providers)


async def update_model(tx: UserScope, providers: Providers, *, model_id: UUID, body: ModelUpdate) -> dict[str, Any]:
    require_admin(tx)
    current = await repo.get_model(tx, model_id=model_id)
    if current is None:
        raise not_found("model")
    changes: dict[str, Any] = {}
    for field in ("provider_model", "slug", "display_name", "capabilities", "default_params", "enabled"):
        if field in body.model_fields_set:
            value = getattr(body, field)
            if value is None:
                raise ApiError(422, "validation_error", f"{field}: may not be null")
            changes[field] = value
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    config = dict(current["config"] or {})
    if prices := [key for key in PRICE_KEYS if key in body.model_fields_set]:
        config = {k: v for k, v in config.items() if k not in prices}
        config.update({key: getattr(body, key) for key in prices if getattr(body, key) is not None})
        changes["config"] = config
    if "voices" in body.model_fields_set:
        config = {k: v for k, v in config.items() if k != "voices"}
        if voices := _voices(current["type"], body.voices or []):
            config["voices"] = voices
        changes["config"] = config
    if "training" in body.model_fields_set:
        config = {k: v for k, v in config.items() if k != "training"}
        if body.training is not None:
            config["training"] = _training(current["provider"], current["type"], body.training)
        changes["config"] = config
    if body.use_for_titles is not None:
        if body.use_for_titles and current["type"] != "chat":
            raise ApiError(422, "validation_error", "use_for_titles: only a chat model writes titles")
        config = {k: v for k, v in config.items() if k != "use_for_titles"}
        changes["config"] = {**config, "use_for_titles": True} if body.use_for_titles else config
        if body.use_for_titles:
            await repo.clear_title_model(tx, except_id=model_id)
    try:
        row = await repo.update_model(tx, model_id=model_id, changes=changes)
    except repo.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if row is None:
        raise not_found("model")
    return model_out(row, providers)


async def delete_model(tx: UserScope, *, model_id: UUID) -> None:
    require_admin(tx)
    if not await repo.delete_model(tx, model_id=model_id):
        raise not_found("model")


def stored_keys(conn: psycopg.Connection[Any], credentials_key: str | None) -> dict[str, str]:
    """Every connection's API key, decrypted, by a name for reports ("connection openai"):
    what the audit's secret scan looks for. Keys this installation cannot decrypt are left out."""
    cipher = CredentialCipher(credentials_key)
    found = {}
    for name, ciphertext in repo.stored_key_ciphertexts(conn):
        try:
            found[f"the API key of connection {name!r}"] = cipher.decrypt(ciphertext)
        except (CredentialsUnavailable, UndecryptableKey):
            continue
    return found


# -- the environment's connections, on first start (the launcher) ----------------------------


def seed_from_environment(conn: psycopg.Connection[Any], settings: Settings, credentials_key: str | None) -> list[str]:
    """Adds a connection for each provider the environment configures (STUDIO_OPENAI_BASE_URL,
    ...) unless one of that name exists: the admin's settings win over the environment.
    Returns the names added."""
    cipher = CredentialCipher(credentials_key)
    added = []
    for seed in connections_from_environment(settings):
        if seed.api_key and not cipher.available:
            log.warning("not adding the %s connection from the environment: STUDIO_CREDENTIALS_KEY is not set, "
                        "so its key cannot be stored", seed.name)
            continue
        encrypted, hint = (cipher.encrypt(seed.api_key), last4(seed.api_key)) if seed.api_key else (None, None)
        if repo.seed_connection(conn, name=seed.name, kind=seed.kind, base_url=seed.base_url.rstrip("/"),
                                api_key_encrypted=encrypted, api_key_last4=hint):
            added.append(seed.name)
    return added
