"""Signed provider webhooks (F15): POST /v1/webhooks/{provider}."""
