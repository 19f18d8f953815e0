"""`/v1/datasets`: the caller's image datasets for fine-tuning. Images are uploaded one
per request, the body being the file itself (streamed to storage, never held whole in
memory), so a client sends many at once in parallel and sees each one's progress and
outcome. Another user's dataset or image answers 404 like a missing one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from studio.datasets import repository as repo
from studio.datasets import service
from studio.datasets.schemas import (
    CaptionsUpdate,
    CaptionsUpdated,
    CaptionUpdate,
    Dataset,
    DatasetCreate,
    DatasetImage,
    DatasetImagePage,
    DatasetPage,
    DatasetUpdate,
    ImageUploaded,
)
from studio.http.deps import Cred, Ctx, Db, SettingsDep, StorageDep
from studio.http.errors import not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.http.openapi import RATE_LIMITED
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

_IMAGE_BODY = {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(service.IMAGE_TYPES)},
               "required": True}


@router.post("", status_code=201, response_model=Dataset)
async def create_dataset(body: DatasetCreate, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    async with db.as_user(cred, ctx) as tx:
        dataset = await service.create(tx, name=body.name, description=body.description,
                                       max_datasets=settings.max_datasets)
    location = f"/v1/datasets/{dataset['id']}"
    return json_response(dataset, 201, headers={"Location": location})


@router.get("", response_model=DatasetPage)
async def list_datasets(db: Db, ctx: Ctx, cred: Cred, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                        cursor: str | None = None) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_datasets(tx, after=after, limit=limit)
    return json_response(page(rows, limit))


@router.get("/{dataset_id}", response_model=Dataset)
async def get_dataset(dataset_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.get(tx, dataset_id))


@router.patch("/{dataset_id}", response_model=Dataset)
async def update_dataset(dataset_id: UUID, body: DatasetUpdate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Renames it or changes its description (the fields given; `description: null`
    clears it)."""
    async with db.as_user(cred, ctx) as tx:
        return json_response(await service.update(tx, dataset_id, body.model_dump(exclude_unset=True)))


@router.delete("/{dataset_id}", status_code=204, responses={409: {"description": "a training run still needs it"}})
async def delete_dataset(dataset_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Deletes the dataset, its images and their files. Finished training runs keep their
    history and trained models."""
    async with db.as_user(cred, ctx) as tx:
        await service.delete(tx, dataset_id)
    return Response(status_code=204)


@router.post("/{dataset_id}/images", status_code=201, response_model=ImageUploaded, openapi_extra={"requestBody": _IMAGE_BODY},
             responses={200: {"model": ImageUploaded, "description": "the dataset already had this file"},
                        409: {"description": "the dataset is full"},
                        413: {"description": "too large, or past the storage quota"},
                        415: {"description": "not a PNG, JPEG or WebP image"}, **RATE_LIMITED})
async def upload_image(dataset_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep,
                       storage: StorageDep,
                       caption: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """The body is the image itself (Content-Type image/png, image/jpeg or image/webp),
    streamed to storage. The same file uploaded again answers 200 with the image the
    dataset already has and `duplicate: true`."""
    declared = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    service.check_image_type(declared)
    await ratelimit.check(request, ratelimit.UPLOADS, cred)
    image, duplicate = await service.add_image(
        db, ctx, cred, storage, dataset_id=dataset_id, declared=declared, caption=service.clean_caption(caption),
        chunks=request.stream(), max_bytes=settings.max_upload_bytes, max_images=settings.max_dataset_images)
    if duplicate:
        return json_response(image | {"duplicate": True})
    location = f"/v1/datasets/{dataset_id}/images/{image['id']}"
    return json_response(image | {"duplicate": False}, 201, headers={"Location": location})


@router.get("/{dataset_id}/images", response_model=DatasetImagePage)
async def list_images(dataset_id: UUID, db: Db, ctx: Ctx, cred: Cred,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: str | None = None) -> Response:
    """In upload order."""
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        await service.get(tx, dataset_id)
        rows = await repo.list_images(tx, dataset_id=dataset_id, after=after, limit=limit)
    return json_response(page([service.image_json(row) for row in rows], limit))


@router.patch("/{dataset_id}/images/{image_id}", response_model=DatasetImage)
async def update_caption(dataset_id: UUID, image_id: UUID, body: CaptionUpdate, db: Db, ctx: Ctx,
                         cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        await service.set_captions(tx, dataset_id, [(image_id, body.caption)])
        image = await repo.get_image(tx, dataset_id=dataset_id, image_id=image_id)
    if image is None:
        raise not_found("image")
    return json_response(service.image_json(image))


@router.put("/{dataset_id}/captions", response_model=CaptionsUpdated)
async def update_captions(dataset_id: UUID, body: CaptionsUpdate, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Sets many captions in one transaction: all of them, or none when any image is not
    in the dataset (404)."""
    async with db.as_user(cred, ctx) as tx:
        updated = await service.set_captions(tx, dataset_id, [(item.image_id, item.caption) for item in body.items])
    return json_response({"updated": updated})


@router.delete("/{dataset_id}/images/{image_id}", status_code=204)
async def delete_image(dataset_id: UUID, image_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        await service.delete_image(tx, dataset_id, image_id)
    return Response(status_code=204)
