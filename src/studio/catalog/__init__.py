"""The catalog: provider connections and the models that run on them, as admins manage
them (public.provider_connections, public.model_registry, public.model_tutorials), and
how every process keeps its providers in step with them (runtime.py)."""
