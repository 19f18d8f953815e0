"""The fleet: the nodes workers run on, and what each offers (public.node_resources).

A worker registers its node at start and renews it every few seconds with the
capabilities of its install: the local providers it can run (`diffusers` with the
`local` extra, `espeak`, `ffmpeg`). The API reads what the live nodes offer, so a model
that needs the `local` extra is usable from an API host without it as soon as one
worker has it, and the queue hands such jobs only to workers that offer it
(jobs.requires; migration 0030)."""
