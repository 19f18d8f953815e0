"""Webhook SQL, in the anonymous scope: the API may only call public.record_webhook()
(SECURITY DEFINER), never touch webhook_deliveries itself."""

from __future__ import annotations

from uuid import UUID

from studio.db.scopes import AnonScope


async def record_webhook(tx: AnonScope, *, provider: str, delivery_id: str, provider_job_id: str | None,
                         payload_json: str) -> UUID | None:
    """Store the delivery and wake whoever waits for its generation. Returns the
    generation it is about (None when unknown). Raises psycopg.errors.UniqueViolation
    for a delivery id this provider already sent (a replay).

    `payload_json` is the verified body itself, so what is stored is what was signed."""
    cur = await tx.conn.execute(
        "SELECT public.record_webhook(%s, %s, %s, %s::jsonb) AS generation_id",
        (provider, delivery_id, provider_job_id, payload_json))
    row = await cur.fetchone()
    assert row is not None
    generation_id: UUID | None = row["generation_id"]
    return generation_id
