"""Studio refuses to start, quickly and with one clear message, when starting would be
unsafe or pointless: production secrets missing or placeholders, an API database role
that bypasses row-level security, a database that is not there, no PostgreSQL server.
Nothing is started or initialised on the way."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from studio.config import API_ROLE
from studio.db.embedded import EmbeddedCluster

from .support import (
    IS_ROOT,
    NO_POSTGRES,
    STUDIO,
    Lab,
    child_env,
    force_stop,
    free_port,
    needs_postgres,
    one_line,
    port_answers,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_SECRETS = ("STUDIO_SECRET_KEY", "STUDIO_API_PASSWORD", "STUDIO_OWNER_PASSWORD", "STUDIO_WORKER_PASSWORD")
REFUSAL_TIMEOUT = 30.0  # a refusal needs no database; anything slower is a hang

def _good_secret() -> str:
    return secrets.token_urlsafe(32)


def _assert_nothing_started(home: Path) -> None:
    cluster = EmbeddedCluster(home)
    assert not cluster.is_initialized(), f"a cluster was initialised in {cluster.data_dir}"
    assert not (home / "pg").exists() and not (home / "secrets.env").exists()


def _refused(lab: Lab, command: str, env: dict[str, str], timeout: float = REFUSAL_TIMEOUT) -> str:
    port = int(env["STUDIO_PORT"])
    result = lab.run([command], env, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"studio {command} exited 0:\n{output}"
    assert "Traceback" not in output, output
    assert not port_answers(port)
    return one_line(output)


# --------------------------------------------------------------------------- production settings


@pytest.mark.parametrize("command", ["up", "api"])
def test_production_without_secrets_is_refused(lab: Lab, command: str) -> None:
    home = lab.home()
    said = _refused(lab, command, child_env(home, free_port(), STUDIO_ENV="production"))
    assert said.startswith("error: production mode refuses to start"), said
    # Each process needs only its own secrets: the API is never given the owner's or
    # the worker's password, so it does not ask for them.
    needed = PRODUCTION_SECRETS if command == "up" else ("STUDIO_SECRET_KEY", "STUDIO_API_PASSWORD")
    for name in PRODUCTION_SECRETS:
        assert (f"{name} is missing" in said) == (name in needed), said
    # /metrics and /readyz's details are the monitoring system's, behind its token.
    assert "STUDIO_METRICS_TOKEN is missing" in said, said
    # Studio's own message, not pydantic's wrapping of it.
    assert "validation error" not in said and "pydantic" not in said
    _assert_nothing_started(home)


@pytest.mark.parametrize("command", ["up", "api"])
def test_production_with_placeholder_secrets_is_refused(lab: Lab, command: str) -> None:
    home = lab.home()
    placeholders = {
        "STUDIO_SECRET_KEY": "change-me-to-a-long-random-string-0123456789",
        "STUDIO_API_PASSWORD": "change-me-api-password-0123",
        "STUDIO_OWNER_PASSWORD": "ChangeMe-owner-password-0123",
        "STUDIO_WORKER_PASSWORD": "your-worker-password-placeholder",
    }
    said = _refused(lab, command, child_env(home, free_port(), STUDIO_ENV="production", **placeholders))
    assert said.startswith("error: production mode refuses to start"), said
    for name, value in placeholders.items():
        assert f"{name} is a placeholder value" in said
        assert value not in said, "a refusal must not echo the secret it refuses"
    _assert_nothing_started(home)


@pytest.mark.parametrize("command", ["up", "api"])
def test_production_with_the_values_of_env_example_is_refused(lab: Lab, command: str) -> None:
    example = REPO / ".env.example"
    assert example.exists(), "DESIGN.md: settings are documented in .env.example"
    values = {}
    for line in example.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name in PRODUCTION_SECRETS:
            values[name] = value.strip().strip("'\"")
    assert sorted(values) == sorted(PRODUCTION_SECRETS), f"{example} should show every production secret"
    home = lab.home()
    said = _refused(lab, command, child_env(home, free_port(), STUDIO_ENV="production", **values))
    assert said.startswith("error: production mode refuses to start"), said
    for name in PRODUCTION_SECRETS:
        assert re.search(rf"{name} is (a placeholder value|shorter than)", said), \
            f"{name} from .env.example was accepted in production: {said}"
    _assert_nothing_started(home)


@needs_postgres
def test_production_embedded_with_every_secret_set_starts_or_names_only_what_is_missing(lab: Lab) -> None:
    home = lab.home()
    port = free_port()
    given = {name: _good_secret() for name in (*PRODUCTION_SECRETS, "STUDIO_SUPERUSER_PASSWORD",
                                                "STUDIO_METRICS_TOKEN", "STUDIO_CREDENTIALS_KEY")}
    proc = lab.start(["up"], child_env(home, port, STUDIO_ENV="production", **given))
    code = proc.wait_exit(15)
    if code is None:  # it starts: then it must become ready and stop cleanly
        proc.wait_ready(port)
        assert proc.terminate() == 0, proc.describe()
        assert not EmbeddedCluster(home).is_running()
        return
    said = one_line(proc.output)
    named = [name for name in given if re.search(rf"\b{name}\b", said)]
    assert not named, f"the refusal asks for variables that are set ({', '.join(named)}): {said}"


# --------------------------------------------------------------------------- the API's database role


@pytest.fixture(scope="module")
def rogue_cluster() -> Iterator[tuple[EmbeddedCluster, str]]:
    """A private, throwaway cluster in which `studio_api` may be made unsafe.

    The API always logs in as studio_api (Settings.role_conninfo overrides any user in
    STUDIO_DATABASE_URL), so an unsafe API role means an unsafe *studio_api*. That is
    not done to the shared test cluster (`pg` fixture): roles are cluster-wide, and
    other tests, or an external cluster given by STUDIO_TEST_ADMIN_URL, rely on it."""
    if NO_POSTGRES is not None:
        pytest.skip(NO_POSTGRES)
    base = Path(tempfile.mkdtemp(prefix="studio-e2e-rogue-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base / "home", settings={"fsync": "off"})
    password = _good_secret()
    try:
        cluster.init(password)
        cluster.start()
        yield cluster, password
    finally:
        force_stop(cluster)
        if cluster.socket_dir.parent != cluster.pg_dir:
            shutil.rmtree(cluster.socket_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(("attributes", "named"), [
    ("SUPERUSER NOBYPASSRLS NOINHERIT", "SUPERUSER"),
    ("NOSUPERUSER BYPASSRLS NOINHERIT", "BYPASSRLS"),
    ("NOSUPERUSER NOBYPASSRLS INHERIT", "NOINHERIT"),
])
def test_api_refuses_a_database_role_that_could_bypass_rls(
        lab: Lab, rogue_cluster: tuple[EmbeddedCluster, str], attributes: str, named: str) -> None:
    cluster, superuser_password = rogue_cluster
    admin = cluster.conninfo("postgres", superuser_password)
    api_password = _good_secret()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
            sql.Identifier(API_ROLE), sql.SQL(attributes), sql.Literal(api_password)))
    try:
        url = make_conninfo(host=str(cluster.socket_dir), port=str(cluster.port), dbname="postgres",
                            user="postgres")  # the user is replaced by studio_api, whatever it says
        env = child_env(lab.home(), free_port(), STUDIO_DATABASE_URL=url, STUDIO_API_PASSWORD=api_password)
        result = lab.run(["api"], env, timeout=60)
        said = one_line(result.stdout + result.stderr)
        assert result.returncode != 0, said
        assert "refusing to start" in said and named in said and f"'{API_ROLE}'" in said
        with psycopg.connect(admin, autocommit=True) as conn:  # it did log in as that role
            assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                                (API_ROLE,)).fetchone()[0] == 0, "the refused API left connections open"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (API_ROLE,))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(API_ROLE)))


def test_api_refusal_is_one_error_line_and_exit_1(lab: Lab, rogue_cluster: tuple[EmbeddedCluster, str]) -> None:
    cluster, superuser_password = rogue_cluster
    admin = cluster.conninfo("postgres", superuser_password)
    api_password = _good_secret()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT BYPASSRLS PASSWORD {}").format(
            sql.Identifier(API_ROLE), sql.Literal(api_password)))
    try:
        url = make_conninfo(host=str(cluster.socket_dir), port=str(cluster.port), dbname="postgres")
        env = child_env(lab.home(), free_port(), STUDIO_DATABASE_URL=url, STUDIO_API_PASSWORD=api_password)
        result = lab.run(["api"], env, timeout=60)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output, output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "refusing to start" in errors[0] and "BYPASSRLS" in errors[0], output
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (API_ROLE,))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(API_ROLE)))


# --------------------------------------------------------------------------- no database


def test_api_with_nothing_listening_at_the_database_url_exits_with_an_error(lab: Lab) -> None:
    empty = lab.base / "no-server-here"
    empty.mkdir()
    url = make_conninfo(host=str(empty), port="5432", dbname="studio")
    env = child_env(lab.home(), free_port(), STUDIO_DATABASE_URL=url, STUDIO_API_PASSWORD=_good_secret())
    result = lab.run(["api"], env, timeout=90)
    said = one_line(result.stdout + result.stderr)
    assert result.returncode != 0, said
    assert str(empty) in said, f"the error does not say which database it could not reach: {said}"


def test_up_with_nothing_listening_at_the_database_url_exits_with_one_error_line(lab: Lab) -> None:
    empty = lab.base / "no-server-here"
    empty.mkdir()
    url = make_conninfo(host=str(empty), port="5432", dbname="studio")
    home = lab.home()
    port = free_port()
    env = child_env(home, port, STUDIO_DATABASE_URL=url, STUDIO_OWNER_PASSWORD=_good_secret(),
                    STUDIO_API_PASSWORD=_good_secret())
    result = lab.run(["up"], env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    said = one_line(result.stderr)
    assert "error: cannot reach the database" in said and str(empty) in said
    assert not port_answers(port)
    _assert_nothing_started(home)


# --------------------------------------------------------------------------- no PostgreSQL


def _hide_postgres_argv() -> list[str] | None:
    """A command prefix that runs its command in a private mount namespace in which the
    PostgreSQL packages' directories are empty, as on a machine without the server.
    (find_pg_bindir searches fixed locations; no setting redirects it.)"""
    if not IS_ROOT or shutil.which("unshare") is None:
        return None
    hidden = [d for d in ("/usr/lib/postgresql", "/usr/local/opt", "/opt/homebrew/opt", "/usr/local/pgsql")
              if os.path.isdir(d)]
    script = "set -e; " + "".join(f"mount -t tmpfs -o size=64k,mode=0755 studio-e2e {d}; " for d in hidden) \
        + 'exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    probe = subprocess.run([*argv, "true"], capture_output=True, timeout=30, check=False)
    return argv if probe.returncode == 0 else None


def _path_without_postgres() -> str:
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    keep = [e for e in entries if e and not any(
        (Path(e) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres"))]
    return os.pathsep.join(keep or ["/usr/bin", "/bin"])


@pytest.fixture
def without_postgres(lab: Lab) -> Iterator[Callable[[Path, int], subprocess.CompletedProcess[str]]]:
    prefix = _hide_postgres_argv()
    if prefix is None:
        pytest.skip("needs root and unshare(1) to hide the PostgreSQL binaries in a mount namespace")

    def run(home: Path, port: int) -> subprocess.CompletedProcess[str]:
        env = child_env(home, port, PATH=_path_without_postgres())
        try:
            return subprocess.run([*prefix, *STUDIO, "up"],
                                  env=env, cwd=lab.base, capture_output=True, text=True, timeout=REFUSAL_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"studio up without PostgreSQL did not exit within {REFUSAL_TIMEOUT:.0f}s: {exc}")

    yield run


def _missing_postgres_error(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    # Progress lines are logs (JSON lines here, stderr is not a terminal); the refusal is not.
    return [line for line in result.stderr.splitlines() if line.strip() and not _is_progress_log(line)]


def _is_progress_log(line: str) -> bool:
    if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|DEBUG) ", line):
        return True
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and entry.get("level") in ("info", "debug")


def test_up_without_postgresql_says_which_package_to_install(lab: Lab, without_postgres) -> None:
    home = lab.home()
    port = free_port()
    result = without_postgres(home, port)
    said = one_line("\n".join(_missing_postgres_error(result)))
    assert said.startswith("error: PostgreSQL server binaries"), said
    assert "apt-get install postgresql" in said
    assert not port_answers(port)
    assert not EmbeddedCluster(home).is_initialized()


def test_up_without_postgresql_error_is_one_line(lab: Lab, without_postgres) -> None:
    result = without_postgres(lab.home(), free_port())
    lines = _missing_postgres_error(result)
    assert len(lines) == 1 and "postgresql" in lines[0], lines
