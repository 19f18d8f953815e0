"""Behind a reverse proxy: `studio up` believes X-Forwarded-For only from the proxies
named in STUDIO_TRUSTED_PROXIES. The client's address is what the login throttle counts
per client and what the audit log records, so a forged header from anyone else must
change nothing, and a trusted proxy's must be used."""

from __future__ import annotations

import pytest

from .support import Lab, child_env, client, free_port, needs_postgres, sign_up_and_log_in, superuser_sql

pytestmark = [pytest.mark.slow, needs_postgres]

FORWARDED = "203.0.113.9"


def failed_login_addresses(lab: Lab, **settings: str) -> list[str]:
    home = lab.home()
    port = free_port()
    up = lab.start(["up"], child_env(home, port, STUDIO_BACKUP_ENABLED="false", **settings))
    up.wait_ready(port)
    with client(port) as http:
        user = sign_up_and_log_in(http)
        wrong = http.post("/v1/auth/login", json={"email": user["email"], "password": "not the password"},
                          headers={"X-Forwarded-For": FORWARDED})
        assert wrong.status_code == 401, wrong.text
    rows = superuser_sql(home, "SELECT host(ip) FROM audit_log WHERE event = 'login.failed'")
    assert up.terminate() == 0, up.describe()
    return [address for (address,) in rows]


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_forwarded_addresses_only_from_a_trusted_proxy(lab: Lab, server: str) -> None:
    """The app reads the header itself (app.create_app), so this holds under either server."""
    assert failed_login_addresses(lab, STUDIO_API_SERVER=server) == ["127.0.0.1"]  # a forged header changes nothing
    assert failed_login_addresses(lab, STUDIO_API_SERVER=server, STUDIO_TRUSTED_PROXIES="127.0.0.1") == [FORWARDED]
