"""GET /v1/me/usage: the caller's usage, summarised per UTC day, kind and model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from studio.http.deps import Cred, Ctx, Db
from studio.http.errors import ApiError
from studio.http.responses import json_response
from studio.http.schemas import IsoDate
from studio.usage import repository as repo
from studio.usage.schemas import UsageSummary

router = APIRouter(prefix="/v1/me", tags=["usage"])

MAX_DAYS = 366


@router.get("/usage", response_model=UsageSummary,
            responses={422: {"description": "since after until, or a range over 366 days"}})
async def my_usage(db: Db, ctx: Ctx, cred: Cred,
                   since: Annotated[IsoDate | None, Query(description="first UTC day (default: 29 days before until)")] = None,
                   until: Annotated[IsoDate | None, Query(description="last UTC day (default: today)")] = None,
                   ) -> Response:
    """Chat answers (tokens, cost) and generations (files, cost), per day and model."""
    last = until or dt.datetime.now(dt.UTC).date()
    first = since or last - dt.timedelta(days=29)
    if first > last:
        raise ApiError(422, "validation_error", "since: must not be after until")
    if (last - first).days >= MAX_DAYS:
        raise ApiError(422, "validation_error", f"the range may span at most {MAX_DAYS} days")
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.usage_by_day(tx, since=first, until=last)
    totals = {key: sum(int(row[key]) for row in rows)
              for key in ("requests", "input_tokens", "output_tokens", "cost_cents")}
    return json_response({"since": first, "until": last, "items": rows, "totals": totals},
                         headers={"Cache-Control": "no-store"})
