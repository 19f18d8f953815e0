"""The SQL of `public.node_resources` at run time: workers register their node and
renew it; the API reads what the live nodes offer through public.fleet_capabilities()
(it may not read the table: admins only, for the ops page)."""

from __future__ import annotations

import re
import socket
from typing import Any

from psycopg.types.json import Jsonb

from studio.db.scopes import AnonScope, UserScope, WorkerScope

# A node counts as gone after a minute without a heartbeat (public.fleet_capabilities).
HEARTBEAT_SECONDS = 15.0
LIVE_SECONDS = 60


def node_name(configured: str | None = None) -> str:
    """The node a worker registers as: STUDIO_WORKER_NODE, else the host's name, in the
    table's alphabet (letters, digits, dot, dash, underscore; at most 100)."""
    raw = configured or socket.gethostname() or "worker"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", raw).lstrip("._-")[:100]
    return name or "worker"


async def register(tx: WorkerScope, *, name: str, provides: frozenset[str]) -> bool:
    """Marks the node online, offering `provides`, heard from now. False when an admin
    set it draining (the row is theirs to change back)."""
    capabilities = Jsonb({"provides": sorted(provides)})
    cur = await tx.conn.execute(
        """
        UPDATE public.node_resources
           SET status = 'online', capabilities = %s, last_heartbeat_at = pg_catalog.now()
         WHERE name = %s
        RETURNING id
        """,
        (capabilities, name))
    if await cur.fetchone() is not None:
        return True
    cur = await tx.conn.execute(
        """
        INSERT INTO public.node_resources (name, status, capabilities, last_heartbeat_at)
        VALUES (%s, 'online', %s, pg_catalog.now())
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """,
        (name, capabilities))
    return await cur.fetchone() is not None


async def live_capabilities(tx: AnonScope) -> frozenset[str]:
    """What the workers heard from in the last minute offer, together."""
    cur = await tx.conn.execute("SELECT name FROM public.fleet_capabilities() AS name")
    return frozenset(row["name"] for row in await cur.fetchall())


async def nodes(tx: UserScope) -> list[dict[str, Any]]:
    """Every node, for an admin (node_resources_select_admin; nobody else sees a row):
    what it offers, when it was last heard from, and whether it counts as live now."""
    cur = await tx.conn.execute(
        """
        SELECT name, status, last_heartbeat_at,
               CASE WHEN jsonb_typeof(capabilities -> 'provides') = 'array'
                    THEN ARRAY(SELECT jsonb_array_elements_text(capabilities -> 'provides'))
                    ELSE '{}'::text[] END AS provides,
               COALESCE(status = 'online' AND last_heartbeat_at > now() - make_interval(secs => %s), false) AS live
          FROM public.node_resources
         ORDER BY name
        """,
        (LIVE_SECONDS,))
    return await cur.fetchall()
