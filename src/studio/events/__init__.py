"""Live progress of generations as Server-Sent Events.

- `repository`: the reads, always a short transaction in the caller's scope (RLS).
- `listener`: one LISTEN studio_events connection per API process, fanned out to the
  in-process subscribers of each user (the notification payload is the user id).
- `endpoints`: `GET /v1/generations/{id}/events` and `GET /v1/events`.

A notification is only a wake-up: a stream re-reads the events table under the
caller's own credential, so what it sends is exactly what RLS lets the caller see, and
a revoked credential ends it.
"""
