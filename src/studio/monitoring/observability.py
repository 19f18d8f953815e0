"""Logging and error reporting for every `studio` process (F7)."""

from __future__ import annotations

import logging

from studio.config import Settings, SettingsError
from studio.monitoring import logs


def configure_logging(settings: Settings | None, *, verbose: bool = False) -> None:
    json_format = None if settings is None or settings.log_format is None else settings.log_format == "json"
    level = "debug" if verbose else settings.log_level if settings is not None else "info"
    logs.configure(json_format=json_format, level=logging.getLevelNamesMapping()[level.upper()])


def init_error_reporting(settings: Settings) -> bool:
    """Errors (unhandled exceptions, ERROR log lines) to Sentry or any service speaking
    its protocol, when STUDIO_SENTRY_DSN is set. No personal data: no cookies, no bodies,
    no user ids, no local variables of the failing frames. True when reporting was turned on."""
    if settings.sentry_dsn is None:
        return False
    try:
        import sentry_sdk
    except ImportError:
        raise SettingsError("STUDIO_SENTRY_DSN is set but sentry-sdk is not installed: "
                            "pip install 'studio[sentry]'") from None
    # Only the default integrations (logging, threads, excepthook): errors arrive through
    # the log lines our handlers write with the exception attached (http/errors.py, jobs/worker.py).
    # The framework integrations would replace the API's JSON 500 answer with their own.
    sentry_sdk.init(dsn=settings.sentry_dsn.get_secret_value(), environment=settings.env,
                    traces_sample_rate=0.0, max_request_body_size="never", auto_enabling_integrations=False,
                    # Stack frames' local variables hold cookies, tokens and passwords.
                    include_local_variables=False)
    return True
