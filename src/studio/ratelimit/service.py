"""Request rate limits (F13): fixed-window counters in Postgres, shared by every process.

The counters live in `public.rate_limit_counters` and are only ever touched through
`auth.rate_limit_hit(bucket, limit, window_seconds)`, a SECURITY DEFINER function that
anon and authenticated may call: it counts the hit and returns 0 when the request is
allowed, else the seconds until the window ends. Because the count is in the database,
every API process and every instance sees the same numbers.

Buckets are `<policy>:user:<uuid>` for a signed-in caller (session or API key: the same
user, the same bucket) and `<policy>:ip:<address>` for an anonymous one. (`login:*` is
the login throttle's, see auth.login_failed.) Behind a reverse proxy the address is
the proxy's unless uvicorn trusts its X-Forwarded-For (`--forwarded-allow-ips`).

Why the limiter has a transaction of its own
--------------------------------------------
An exception inside a scope rolls its transaction back, the counter increment with it.
Were the hit made inside the endpoint's own transaction, then

* a refused request (the 429 is an exception) would leave no trace, and neither would
  an *allowed* request that later fails inside the transaction (404 model, 409, 422 from
  a constraint...): hammering an endpoint with requests that fail would be free;
* the counter row stays locked until that transaction ends, so concurrent requests of
  one user (or of one address) would queue behind each other's whole transaction.

So `enforce` opens a short transaction of its own (`as_user` / `as_anon`: the same
pool, no extra connection held at once) containing nothing but the hit, lets it commit,
and only then decides: allow, 429 or, when the check itself failed, 503 or allow. The
cost is three round trips (the scope's opening, which authenticates users as every
scope does, the hit, the COMMIT). Endpoints call it first,
before any work (before hashing a password, before the main transaction), e.g.

    await ratelimit.check(request, ratelimit.GENERATIONS, cred)

Failing closed: if the limiter cannot check (the database call fails, the pool is
exhausted), production answers 503 with Retry-After rather than letting an unmetered
request through; development and test let it through and log a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import psycopg
from fastapi import Request

from studio.auth.identity import Credential, RequestContext
from studio.db.scopes import AnonScope, ApiDatabase, UserScope
from studio.http.deps import context_of
from studio.http.errors import ApiError
from studio.ratelimit import repository

if TYPE_CHECKING:
    from studio.config import Settings

log = logging.getLogger("studio.ratelimit")

# Seconds a client is asked to wait when the limiter itself is unavailable.
UNAVAILABLE_RETRY_AFTER = 5

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")


@dataclass(frozen=True, slots=True)
class Limit:
    """A named policy: at most `limit` requests per `window_seconds` per bucket.
    `limit_setting` / `window_setting` name the Settings fields that override the
    defaults (read with a fallback, so a policy works before its field exists)."""

    name: str
    limit: int
    window_seconds: int = 60
    limit_setting: str | None = None
    window_setting: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name == "login":
            raise ValueError(f"invalid rate limit name {self.name!r}")
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError(f"rate limit {self.name!r} needs limit >= 1 and window_seconds >= 1")

    def configured(self, settings: Settings) -> Limit:
        """This policy with the numbers the operator configured."""
        limit = getattr(settings, self.limit_setting, self.limit) if self.limit_setting else self.limit
        window = (getattr(settings, self.window_setting, self.window_seconds) if self.window_setting
                  else self.window_seconds)
        return replace(self, limit=int(limit), window_seconds=int(window))

    def bucket(self, tx: UserScope | AnonScope, ctx: RequestContext) -> str:
        """Per user when signed in, per client address otherwise."""
        if isinstance(tx, UserScope):
            return f"{self.name}:user:{tx.user.id}"
        return f"{self.name}:ip:{ctx.client_ip or 'unknown'}"


GENERATIONS = Limit("generations", 30, 60, limit_setting="rate_limit_generations_per_minute")
CHAT = Limit("chat", 20, 60, limit_setting="rate_limit_chat_per_minute")
UPLOADS = Limit("uploads", 30, 60, limit_setting="rate_limit_uploads_per_minute")
SIGNUP = Limit("signup", 5, 600, limit_setting="rate_limit_signups_per_window",
               window_setting="rate_limit_signup_window_seconds")
# An export reads every row and file of the user: a few an hour are plenty.
EXPORTS = Limit("exports", 5, 3600)
POLICIES = (GENERATIONS, CHAT, UPLOADS, SIGNUP, EXPORTS)


def enabled(settings: Settings) -> bool:
    return bool(getattr(settings, "rate_limits_enabled", True))


def fails_closed(settings: Settings) -> bool:
    """Closed in production unless the operator says otherwise; open elsewhere."""
    explicit = getattr(settings, "rate_limit_fail_closed", None)
    return settings.env == "production" if explicit is None else bool(explicit)


async def enforce(db: ApiDatabase, ctx: RequestContext, limit: Limit, *, cred: Credential | None = None,
                  fail_closed: bool) -> None:
    """Counts the request against `limit` in a transaction of its own, committed before
    anything is decided (see the module docstring), then raises ApiError 429 with
    Retry-After when over the limit. If the check fails (psycopg error, pool timeout):
    ApiError 503 with Retry-After when `fail_closed`, else a warning and the request goes
    on. With `cred` the bucket is the user's (an unknown credential raises Unauthenticated,
    as any scope does); without, the client address's."""
    bucket = "?"
    try:
        if cred is None:
            async with db.as_anon(ctx) as anon:
                bucket = limit.bucket(anon, ctx)
                retry_after = await repository.hit(anon, bucket=bucket, limit=limit.limit,
                                                   window_seconds=limit.window_seconds)
        else:
            async with db.as_user(cred, ctx) as user:
                bucket = limit.bucket(user, ctx)
                retry_after = await repository.hit(user, bucket=bucket, limit=limit.limit,
                                                   window_seconds=limit.window_seconds)
    except psycopg.Error as exc:
        if fail_closed:
            log.exception("rate limiter unavailable, refusing the request",
                          extra={"request_id": ctx.request_id, "bucket": bucket})
            raise ApiError(503, "unavailable", "the server cannot check rate limits right now, retry shortly",
                           headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}) from exc
        log.warning("rate limiter unavailable, letting the request through (fail open): %s: %s",
                    type(exc).__name__, exc, extra={"request_id": ctx.request_id, "bucket": bucket})
        return
    if retry_after > 0:
        raise ApiError(429, "rate_limited",
                       f"rate limit exceeded: {limit.limit} {limit.name} requests per {limit.window_seconds} s;"
                       f" retry in {retry_after} s",
                       headers={"Retry-After": str(retry_after)})


async def check(request: Request, limit: Limit, cred: Credential | None = None) -> None:
    """What an endpoint calls first: `limit` as configured, failing closed in production.
    Pass the caller's credential to count per user; omit it to count per client address."""
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        return
    await enforce(request.app.state.db, context_of(request), limit.configured(settings), cred=cred,
                  fail_closed=fails_closed(settings))
