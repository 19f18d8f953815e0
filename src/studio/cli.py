"""The `studio` command."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import psycopg
import sqlalchemy.exc
import typer
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from studio.app import UnsafeDatabaseRole, preflight
from studio.auth import repository as auth_repo
from studio.auth import service as auth_service
from studio.auth.identity import RequestContext
from studio.auth.schemas import SignupRequest
from studio.config import API_ROLE, OWNER_ROLE, Settings, SettingsError
from studio.db import migrate
from studio.db.embedded import SUPERUSER, EmbeddedError, PostgresNotFound, find_pg_bindir
from studio.db.scopes import DirectApiLogin
from studio.launcher import instance
from studio.launcher.deployment import (
    Deployment,
    LauncherError,
    api_conninfo,
    bootstrap_external,
    database,
    embedded_credentials_key,
    embedded_pgbouncer,
    worker_conninfo,
)
from studio.monitoring import observability
from studio.monitoring import repository as monitoring
from studio.monitoring.logs import JsonFormatter, TextFormatter
from studio.ops import service as ops
from studio.ops.backup import BackupError, logical_dump
from studio.ops.drill import DrillFailed
from studio.ops.scheduler import Scheduler

if TYPE_CHECKING:
    from studio.audit.report import Report

app = typer.Typer(help="Studio: a self-hostable multi-modal generation studio.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database: bootstrap roles, migrate, show status.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts, for operators.", no_args_is_help=True)
backup_app = typer.Typer(help="Backups with pgBackRest: create, list, verify, restore, drill.", no_args_is_help=True)
dev_app = typer.Typer(help="Development tools: seed data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(backup_app, name="backup")
app.add_typer(dev_app, name="dev")

# soft_wrap: a one-line message stays one line in logs, whatever the terminal width.
console = Console(stderr=True, soft_wrap=True, highlight=False)
log = logging.getLogger("studio.cli")


def _settings() -> Settings:
    try:
        return Settings()
    except (SettingsError, ValidationError) as exc:
        _fail(str(exc))


def _owner_settings() -> Settings:
    """Settings of a command that migrates, as studio_owner."""
    settings = _settings()
    settings.require_secrets("owner_password", *(("superuser_password",) if settings.embedded else ()))
    return settings


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _operator_errors(func):
    """Turn the launcher's expected failures into one clear line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (PostgresNotFound, EmbeddedError, LauncherError, SettingsError, UnsafeDatabaseRole,
                BackupError, DrillFailed, monitoring.StatementsUnavailable) as exc:
            _fail(str(exc))
        except psycopg.OperationalError as exc:
            _fail(f"cannot reach the database: {_one_line(exc)}")
        except sqlalchemy.exc.OperationalError as exc:  # migrations go through Alembic's engine
            _fail(f"cannot reach the database: {_one_line(exc.orig or exc)}")
    return wrapper


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    if verbose:  # also for the processes this command starts (the API's, the worker)
        os.environ["STUDIO_LOG_LEVEL"] = "debug"
    try:
        settings: Settings | None = Settings()
    except (SettingsError, ValidationError):
        settings = None  # the command reports the settings error itself
    observability.configure_logging(settings, verbose=verbose)
    if settings is not None:
        try:
            observability.init_error_reporting(settings)
        except SettingsError as exc:
            _fail(str(exc))


@app.command()
@_operator_errors
def up(
    pgbouncer: Annotated[bool, typer.Option("--pgbouncer", help="Run PgBouncer (transaction pooling) in front of "
                                                                "the embedded database; same as STUDIO_PGBOUNCER=true.")]
        = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Write the JSON log lines of every process to standard "
                                                              "output instead of $STUDIO_HOME/logs/studio.log; "
                                                              "same as STUDIO_LOG_STDOUT=true.")]
        = False,
) -> None:
    """Start Studio: the database (embedded unless STUDIO_DATABASE_URL is set), migrations,
    the API, a worker and the backup scheduler, until Ctrl-C or SIGTERM. While the
    installation has no admin, prints a one-time link that creates the first one."""
    settings = _settings()
    if pgbouncer and not settings.pgbouncer:
        if not settings.embedded:
            _fail("--pgbouncer runs PgBouncer for the embedded database; with your own PgBouncer set "
                  "STUDIO_PGBOUNCER=true and STUDIO_DIRECT_DATABASE_URL instead")
        settings = settings.model_copy(update={"pgbouncer": True})
    _raise_open_files_limit()
    settings.require_secrets("secret_key", "owner_password", "api_password", "worker_password", "credentials_key",
                             "metrics_token", *(("superuser_password",) if settings.embedded else ()))
    if settings.embedded:
        find_pg_bindir()  # no server binaries: one error line, before anything is said or created
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    home = settings.home_dir
    url = instance.local_url(settings.host, settings.port)
    with instance.exclusive(home):
        instance.check_port_free(settings.host, settings.port)
        with _up_logs(settings, to_stdout=log_json or settings.log_stdout) as (child_output, log_file), \
                database(settings, migrate_to_head=True, progress=_say) as deployment:
            if stop.is_set():
                console.print("Studio stopped.")
                return
            if settings.pgbouncer and deployment.cluster is not None:
                _say(f"Starting PgBouncer in front of the database ({settings.pgbouncer_pool_size} server "
                     f"connections at most)")
            with embedded_pgbouncer(deployment) as bouncer:
                setup_token = _issue_setup_token(deployment)
                scheduler = Scheduler(deployment) if deployment.backrest is not None else None
                _say(f"Starting the API ({_processes(settings.api_workers)} on {settings.host}:{settings.port}), "
                     f"a worker" + (" and the backup scheduler" if scheduler is not None else ""))
                scheduler_thread = (threading.Thread(target=scheduler.run, name="scheduler", daemon=True)
                                    if scheduler else None)
                if scheduler_thread is not None:
                    scheduler_thread.start()
                log_format: dict[str, str] = {"STUDIO_LOG_FORMAT": settings.log_format or "json"}
                api = subprocess.Popen([sys.executable, "-m", "studio", "api"],
                                       env=deployment.api_environment() | log_format,
                                       stdin=subprocess.DEVNULL, stdout=child_output, stderr=subprocess.STDOUT)
                worker = subprocess.Popen([sys.executable, "-m", "studio", "worker"],
                                          env=deployment.worker_environment() | log_format,
                                          stdin=subprocess.DEVNULL, stdout=child_output, stderr=subprocess.STDOUT)
                try:
                    with instance.published(home, settings.host, settings.port):
                        ready = _wait_ready(url, api, stop)
                        if ready:
                            where = str(deployment.cluster.data_dir) if deployment.cluster else "the configured cluster"
                            if bouncer is not None:
                                where += f", through PgBouncer with {bouncer.pool_size} server connections"
                            if settings.api_workers > 1:
                                where += f"; {settings.api_workers} API processes"
                            _ready_lines(url, where, setup_token, log_file)
                        elif not stop.is_set() and api.poll() is None:
                            console.print(f"[yellow]the API has not answered {url}/readyz yet; still waiting[/]")
                        while not stop.is_set() and api.poll() is None and worker.poll() is None:
                            stop.wait(0.5)
                        for name, process in (("API", api), ("worker", worker)):
                            if process.poll() is not None and not stop.is_set():
                                console.print(f"[bold red]the {name} process exited with status "
                                              f"{process.returncode}[/]"
                                              + (f"; its log: {escape(str(log_file))}" if log_file else ""))
                        if stop.is_set():
                            _say("Stopping Studio")
                finally:
                    if scheduler is not None and scheduler_thread is not None:
                        scheduler.stop()  # a backup under way finishes first: it is recorded as it ends
                    # Both at once: the worker's grace period for running jobs runs meanwhile.
                    for process in (api, worker):
                        if process.poll() is None:
                            process.terminate()
                    _terminate(api)
                    _terminate(worker, grace=60)
                    if scheduler_thread is not None:
                        scheduler_thread.join()
    console.print("Studio stopped.")
    if not stop.is_set() and any(p.returncode not in (0, -signal.SIGTERM, -signal.SIGINT) for p in (api, worker)):
        raise typer.Exit(1)


def _say(sentence: str) -> None:
    """One plain line of `studio up` for the person watching it."""
    console.print(escape(sentence), highlight=False)


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def _ready_lines(url: str, where: str, setup_token: str | None, log_file: Path | None) -> None:
    console.print(f"[bold green]Studio is ready[/] at {url}  (database: {escape(where)})", highlight=False)
    if setup_token is not None:
        console.print(f"  Create the first admin account: {auth_service.setup_link(url, setup_token)}",
                      highlight=False)
        console.print("  (a one-time link; `studio setup-link` prints a new one)", highlight=False)
    else:
        console.print(f"  Open {url} and sign in; add accounts with `studio user create EMAIL`.", highlight=False)
    console.print(f"  API reference: {url}/docs", highlight=False)
    if log_file is not None:
        console.print(f"  Logs: {escape(str(log_file))}", highlight=False)
    console.print("Stop with Ctrl+C.", highlight=False)


def _issue_setup_token(deployment: Deployment) -> str | None:
    """A fresh one-time setup token while there is no admin (replacing any earlier
    one), as studio_owner; None once an admin exists."""
    with psycopg.connect(deployment.conninfo(OWNER_ROLE)) as conn:
        return auth_service.issue_setup_token(conn)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


@contextlib.contextmanager
def _up_logs(settings: Settings, *, to_stdout: bool) -> Iterator[tuple[Any, Path | None]]:
    """Where the log lines of `studio up` and of the processes it starts go: appended to
    $STUDIO_HOME/logs/studio.log (warnings of `studio up` itself also to the terminal, in
    plain words), or to standard output. JSON unless STUDIO_LOG_FORMAT=text. Yields the
    children's standard output (None: inherited) and the log file (None: stdout)."""
    formatter = TextFormatter() if settings.log_format == "text" else JsonFormatter()
    root = logging.getLogger()
    before = root.handlers[:]
    try:
        if to_stdout:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(formatter)
            root.handlers[:] = [handler]
            yield None, None
            return
        path = instance.log_path(settings.home_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, mode="a", encoding="utf-8")
        file_handler.setFormatter(formatter)
        plain = logging.StreamHandler(sys.stderr)
        plain.setLevel(logging.WARNING)
        plain.setFormatter(_PlainFormatter())
        root.handlers[:] = [file_handler, plain]
        try:
            with path.open("ab") as children:  # O_APPEND: every process's lines land whole, in order
                yield children, path
        finally:
            file_handler.close()
    finally:
        root.handlers[:] = before


def _raise_open_files_limit() -> None:
    """Every client connection is a file descriptor, in the API and in PgBouncer: 1,000
    of them exceed the usual soft limit of 1,024. The children inherit the raised one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _wait_ready(url: str, process: subprocess.Popen, stop: threading.Event, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set() and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def _terminate(process: subprocess.Popen, grace: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@app.command()
@_operator_errors
def api() -> None:
    """Serve the HTTP API only (as studio_api), in STUDIO_API_WORKERS processes.
    `studio up` runs this for you."""
    import uvicorn

    settings = _settings()
    settings.require_secrets("secret_key", "api_password", "credentials_key", "metrics_token")
    conninfo, secret_key = api_conninfo(settings)
    preflight(conninfo, timeout=settings.pool_timeout)
    workers = settings.api_workers
    with contextlib.ExitStack() as cleanup:
        if workers > 1:
            if not (secret_key or settings.secret_key):
                # Every process must sign and check CSRF tokens with the same key.
                os.environ["STUDIO_SECRET_KEY"] = secrets.token_urlsafe(32)
                log.warning("STUDIO_SECRET_KEY is not set; using a random key for this run")
            # Each process writes its metrics here and a scrape adds them up (monitoring/metrics.py);
            # a fresh directory per run, so nothing of an earlier run is counted.
            metrics_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="studio-api-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        else:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if settings.api_server == "granian":
            _serve_with_granian(settings, workers)
            return
        uvicorn.run("studio.app:serve", factory=True, workers=workers, host=settings.host, port=settings.port,
                    # Our logging (JSON lines with the request id): uvicorn's own config would
                    # replace it; its access log is ours (studio.access), with the route and timing.
                    log_config=None, log_level="info", server_header=False,
                    # X-Forwarded-For is read by the app itself, from trusted proxies only
                    # (app.create_app), whichever server runs it.
                    proxy_headers=False, access_log=False,
                    # Open event streams must not keep a stopping server alive.
                    timeout_graceful_shutdown=5)


def _serve_with_granian(settings: Settings, workers: int) -> None:
    """The same app (studio.app:serve in each process) under granian: its HTTP handling
    runs in Rust, and it needed less CPU per request than uvicorn (decision 0007)."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels
    except ImportError:
        raise SettingsError("STUDIO_API_SERVER=granian but granian is not installed: "
                            "pip install 'studio[granian]'") from None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # granian forks its processes from this one, which imported prometheus-client
        # before the directory was chosen; the client picks its file-backed values at
        # import, so pick again here, before any process creates a metric.
        from prometheus_client import values
        values.ValueClass = values.get_value_class()
    Granian("studio.app:serve", factory=True, address=settings.host, port=settings.port,
            interface=Interfaces.ASGI, workers=workers, loop=Loops.uvloop, websockets=False,
            # Its own lines (start, a worker's exit) go through our handlers, as JSON lines;
            # the access log is ours (studio.access).
            log_level=LogLevels.info, log_access=False,
            log_dictconfig={"version": 1, "disable_existing_loggers": False,
                            "loggers": {"_granian": {"propagate": True}}},
            # A process that dies is replaced, as uvicorn's supervisor does; one that does not
            # stop within 5 s of a shutdown (an open event stream) is killed.
            respawn_failed_workers=True, workers_kill_timeout=5).serve()


@app.command()
@_operator_errors
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at the same time.")] = 2,
) -> None:
    """Run jobs from the queue (as studio_worker). `studio up` runs one for you; run more,
    on this or other machines, to scale out."""
    from studio.worker import run_worker

    settings = _settings()
    settings.require_secrets("worker_password", "credentials_key")
    conninfo = worker_conninfo(settings)
    if settings.credentials_key is None and (credentials_key := embedded_credentials_key(settings)):
        settings = settings.model_copy(update={"credentials_key": SecretStr(credentials_key)})
    asyncio.run(run_worker(settings, conninfo, concurrency=concurrency))


@app.command()
@_operator_errors
def scheduler() -> None:
    """Run the backup scheduler alone (`studio up` runs one too; one is active at a time)."""
    settings = _settings()
    with database(settings) as deployment:
        runner = Scheduler(deployment)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: runner.stop())
        ops.backrest_of(deployment)  # a clear error when backups are not Studio's to run
        runner.run()
    console.print("scheduler stopped")


@db_app.command("bootstrap")
@_operator_errors
def db_bootstrap(
    admin_url: Annotated[str | None, typer.Option(envvar="STUDIO_ADMIN_DATABASE_URL",
                                                     help="Superuser or CREATEROLE login (external cluster only).")] = None,
) -> None:
    """Create or repair the roles and the database (idempotent)."""
    settings = _settings()
    if settings.embedded:
        with database(settings):
            pass
    else:
        if not admin_url:
            _fail("an external cluster needs --admin-url (or STUDIO_ADMIN_DATABASE_URL) to create roles")
        bootstrap_external(settings, admin_url)
    console.print("roles and database are in place")


@db_app.command("upgrade")
@_operator_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate up (as studio_owner)."""
    with database(_owner_settings()) as deployment:
        migrate.upgrade(deployment.conninfo(OWNER_ROLE), revision)
        console.print(f"at revision {migrate.current_revision(deployment.conninfo(OWNER_ROLE))}")


@db_app.command("downgrade")
@_operator_errors
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, -1 for one step, base for empty.")] = "-1") -> None:
    """Migrate down (as studio_owner). Every revision has a real downgrade."""
    with database(_owner_settings()) as deployment:
        migrate.downgrade(deployment.conninfo(OWNER_ROLE), revision)
        console.print(f"at revision {migrate.current_revision(deployment.conninfo(OWNER_ROLE)) or 'base'}")


@db_app.command("status")
@_operator_errors
def db_status() -> None:
    """Where the database is, its revision, and the revisions this code knows."""
    settings = _owner_settings()
    with database(settings) as deployment:
        current = migrate.current_revision(deployment.conninfo(OWNER_ROLE))
    head = migrate.head_revision()
    table = Table(title="Migrations", show_lines=False)
    table.add_column("revision")
    table.add_column("description")
    table.add_column("")
    for revision, doc in migrate.history():
        table.add_row(revision, doc, "<- current" if revision == current else "")
    out = Console()
    out.print(table)
    where = deployment.cluster.data_dir if deployment.cluster else "external cluster"
    out.print(f"database: {where}\ncurrent: {current or 'base'}  head: {head}  "
              f"{'up to date' if current == head else 'run `studio db upgrade`'}", highlight=False)


class StatementOrder(str, Enum):
    total_time = "total_time"
    mean_time = "mean_time"
    calls = "calls"


@db_app.command("top")
@_operator_errors
def db_top(
    order: Annotated[StatementOrder, typer.Option(help="Heaviest first by total time, time per call, or calls.")]
        = StatementOrder.total_time,
    limit: Annotated[int, typer.Option(min=1, max=monitoring.MAX_LIMIT, help="Statements shown.")] = 20,
    admin_url: Annotated[str | None, typer.Option(envvar="STUDIO_ADMIN_DATABASE_URL",
                                                     help="A superuser login (external cluster only).")] = None,
) -> None:
    """The statements that cost the database most (pg_stat_statements), in Studio's
    database only. Read with the embedded cluster's superuser, or --admin-url."""
    settings = _settings()
    if settings.embedded:
        with database(settings) as deployment:
            assert deployment.cluster is not None and deployment.superuser_password is not None
            conninfo = deployment.cluster.conninfo(SUPERUSER, deployment.superuser_password, settings.db_name)
            with psycopg.connect(conninfo) as conn:
                rows = monitoring.top_statements_direct(conn, order=order.value, limit=limit)
    else:
        if not admin_url:
            _fail("an external cluster needs --admin-url (or STUDIO_ADMIN_DATABASE_URL): a superuser login, "
                  "who may connect to Studio's database and read every role's statements")
        with psycopg.connect(make_conninfo(admin_url, dbname=settings.db_name)) as conn:
            rows = monitoring.top_statements_direct(conn, order=order.value, limit=limit)
    from studio.monitoring.service import statements_without_literals

    rows = statements_without_literals(rows)  # an operator's ALTER ROLE ... PASSWORD '...' among them
    table = Table(title=f"Statements in {settings.db_name}, by {order.value}")
    for column in ("calls", "total ms", "mean ms", "max ms", "rows", "cache hit", "role"):
        table.add_column(column, justify="right" if column != "role" else "left", no_wrap=True)
    table.add_column("query", overflow="fold", min_width=40)
    for row in rows:
        blocks = row["shared_blks_hit"] + row["shared_blks_read"]
        table.add_row(f"{row['calls']:,}", f"{row['total_ms']:,.1f}", f"{row['mean_ms']:,.2f}",
                      f"{row['max_ms']:,.1f}", f"{row['rows']:,}",
                      f"{row['shared_blks_hit'] / blocks:.1%}" if blocks else "-", row["role"],
                      escape(" ".join(row["query"].split())[:300]))
    out = Console()
    # Piped into a file or a pager: wide enough for the query to stay readable.
    Console(width=None if out.is_terminal else 160).print(table)
    if not rows:
        console.print("no statements recorded yet (pg_stat_statements counts from its last reset)")


@user_app.command("create")
@_operator_errors
def user_create(
    email: str,
    password: Annotated[str | None, typer.Option(envvar="STUDIO_NEW_USER_PASSWORD",
                                                    help="Prompted for when not given.")] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the account an admin.")] = False,
) -> None:
    """Create an account through the same narrow path as sign-up."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        request = SignupRequest(email=email, password=password, display_name=display_name)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    settings = _settings()
    with database(settings, migrate_to_head=True) as deployment:
        try:
            asyncio.run(auth_service.signup(DirectApiLogin(deployment.conninfo(API_ROLE)),
                                            RequestContext(request_id="studio user create"), email=request.email,
                                            password=request.password, display_name=request.display_name))
        except psycopg.errors.UniqueViolation:
            _fail(f"an account for {request.email} already exists")
        if admin:
            with psycopg.connect(deployment.conninfo(OWNER_ROLE)) as conn:
                auth_repo.set_user_role_direct(conn, email=request.email, role="admin")
    console.print(f"created {'admin ' if admin else ''}account {request.email}", highlight=False)


@app.command("setup-link")
@_operator_errors
def setup_link() -> None:
    """Print a fresh one-time link that creates the first admin account, while the
    installation has none (when the link `studio up` printed was lost). The previous
    link stops working."""
    settings = _owner_settings()
    with database(settings, migrate_to_head=True) as deployment:
        token = _issue_setup_token(deployment)
    if token is None:
        _fail("Studio has an admin already: sign in, or add an admin with `studio user create EMAIL --admin`")
    running = instance.published_url(settings.home_dir)
    print(auth_service.setup_link(running or instance.api_url(settings), token))
    console.print("A one-time link: it creates the first admin account, then stops working.", highlight=False)
    if running is None and settings.embedded:
        console.print("Studio is not running here: `studio up` prints a new link when it starts (and this one "
                      "then stops working).", highlight=False)


# --------------------------------------------------------------------------- audit


class AuditFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
@_operator_errors
def audit(
    url: Annotated[str | None, typer.Option(help="The running API (default: where the `studio up` of this "
                                                    "home serves, else http://STUDIO_HOST:STUDIO_PORT).")]
        = None,
    output: Annotated[AuditFormat, typer.Option("--format", help="The executive summary, or JSON.")]
        = AuditFormat.text,
    min_score: Annotated[float, typer.Option(min=0, max=10, help="Exit 1 below this score.")] = 8.0,
) -> None:
    """Is this installation production-ready? Live checks of every audit finding (the
    database catalog, roles, backups, settings, and the running API over HTTP), a score
    out of 10 and the security scorecard. Exits 1 below --min-score or when a critical
    finding fails: K1, K5, F4 (another user's rows reachable) or F1-F3, F5. Every run is
    stored: admins see the latest on the ops page."""
    from studio.audit import configured_secrets, report
    from studio.audit.checks import AuditTarget, run_checks
    from studio.catalog import service as catalog_service

    settings = _owner_settings()
    # Roles as they are: any other command would first repair them.
    with database(settings, repair_roles=False) as deployment:
        with psycopg.connect(deployment.conninfo(OWNER_ROLE)) as conn:
            connection_keys = catalog_service.stored_keys(conn, deployment.credentials_key)
        secrets = configured_secrets(settings, {
            "STUDIO_SUPERUSER_PASSWORD": deployment.superuser_password,
            "STUDIO_SECRET_KEY": deployment.secret_key,
            "STUDIO_CREDENTIALS_KEY": deployment.credentials_key,
            **{f"STUDIO_{role.removeprefix('studio_').upper()}_PASSWORD": password
               for role, password in deployment.passwords.items()},
            **connection_keys})
        target = AuditTarget(settings, deployment.conninfo(OWNER_ROLE),
                             url or instance.api_url(settings), secrets)
        result = report.build(run_checks(target))
        code = result.exit_code(min_score)
        stored = _store_audit_run(target.conninfo, result, code)
    if output is AuditFormat.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(report.markdown(result, title=f"Studio at {target.api_url}"), end="")
    if stored is None:
        console.print("Stored in the database: admins see the latest result on the ops page (/ops).")
    else:
        console.print(f"[yellow]warning:[/] the result was not stored for the ops page: {escape(stored)}")
    raise typer.Exit(code)


def _store_audit_run(conninfo: str, result: Report, exit_code: int) -> str | None:
    """Keeps the run for the ops page (GET /v1/admin/ops), as studio_owner. None when
    stored, else why not: a failure to store never hides the audit's own result."""
    from studio.audit import service as audit_service

    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            audit_service.store_run(conn, result, exit_code=exit_code)
    except psycopg.Error as exc:
        return _one_line(exc)
    return None


# --------------------------------------------------------------------------- backups


@contextlib.contextmanager
def _steps() -> Iterator[Callable[[str], None]]:
    """A Rich progress line per long step (a spinner and the time it has taken)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        current: list[TaskID] = []

        def step(description: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(description, total=None))

        yield step
        if current:
            progress.update(current[-1], completed=1, total=1)


T = TypeVar("T")


def _tree_bytes(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _with_bar(description: str, total: int, written: Callable[[], int], work: Callable[[], T]) -> T:
    """Run `work` in a thread while a Rich progress bar follows `written()` bytes of an
    expected `total` (pgBackRest 2.45 reports no progress of its own: the bar watches
    the files it writes)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="backup-step", daemon=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), DownloadColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(description, total=max(total, 1))
        thread.start()
        while thread.is_alive():
            progress.update(task, completed=min(written(), total))
            thread.join(0.5)
        if "error" not in outcome:
            progress.update(task, completed=total)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--to-time {value!r} is not an ISO 8601 time, e.g. 2026-11-25T07:30:00+00:00")
    if moment.tzinfo is None:
        _fail("--to-time needs a time zone (e.g. +00:00 or Z): recovery must not guess")
    return moment


@backup_app.command("create")
@_operator_errors
def backup_create(
    type: Annotated[str, typer.Option("--type", help="full or diff (changes since the last full).")] = "full",
    repo: Annotated[int, typer.Option(help="1: local; 2: the S3 repository.")] = 1,
) -> None:
    """Take a base backup now (WAL is archived continuously anyway)."""
    if type not in ("full", "diff"):
        _fail("--type must be full or diff")
    with database(_settings()) as deployment:
        backrest = ops.backrest_of(deployment)
        if type == "full" and repo == 1:
            # What the repository will hold: the cluster's size times the compression
            # ratio of the last full backup (1.0 without one).
            before = {b.label: b for b in backrest.backups(1)}
            fulls = [b for b in before.values() if b.type == "full" and b.database_bytes]
            ratio = fulls[-1].repo_bytes / fulls[-1].database_bytes if fulls else 1.0
            expected = int(_tree_bytes(backrest.cluster.data_dir) * ratio)
            stanza_dir = backrest.repo_path / "backup" / "studio"

            def written() -> int:
                new = [d for d in stanza_dir.iterdir() if d.is_dir() and d.name not in before] \
                    if stanza_dir.is_dir() else []
                return sum(_tree_bytes(d) for d in new)

            backup = _with_bar(f"full backup to repository {repo}", expected, written,
                               lambda: ops.create_backup(deployment, type="full", repo_key=repo))
        else:
            with _steps() as step:
                step(f"{type} backup to repository {repo}")
                backup = ops.create_backup(deployment, type="diff" if type == "diff" else "full", repo_key=repo)
    seconds = (backup.stopped_at - backup.started_at).total_seconds() or 1
    console.print(f"backup {backup.label}: {backup.database_bytes / 1e6:,.1f} MB of database, "
                  f"{backup.repo_bytes / 1e6:,.1f} MB stored, {backup.database_bytes / 1e6 / seconds:,.0f} MB/s",
                  highlight=False)


@backup_app.command("list")
@_operator_errors
def backup_list() -> None:
    """Backups in every repository, the WAL archive, and the recent runs."""
    with database(_settings()) as deployment:
        backrest = ops.backrest_of(deployment)
        sets = backrest.backups()
        info = backrest.info()
        runs = ops.recent_runs(deployment)
    out = Console()
    table = Table(title="Backups (oldest first)")
    for column in ("label", "type", "repo", "started (UTC)", "took", "database", "stored", "based on"):
        table.add_column(column)
    for b in sets:
        table.add_row(b.label, b.type, str(b.repo), b.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                      f"{(b.stopped_at - b.started_at).total_seconds():.0f} s", f"{b.database_bytes / 1e6:,.1f} MB",
                      f"{b.repo_bytes / 1e6:,.1f} MB", b.prior or "")
    out.print(table)
    for archive in info.get("archive", []):
        out.print(f"WAL archive (repository {archive.get('database', {}).get('repo-key', '?')}): "
                  f"{archive.get('min')} .. {archive.get('max')}", highlight=False)
    runs_table = Table(title="Recent runs")
    for column in ("started (UTC)", "kind", "status", "label", "trigger", "error"):
        runs_table.add_column(column)
    for run in runs:
        runs_table.add_row(run["started_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), run["kind"],
                           run["status"], run["backup_label"] or "", run["trigger"], (run["error"] or "")[:80])
    out.print(runs_table)


@backup_app.command("verify")
@_operator_errors
def backup_verify(repo: Annotated[int, typer.Option(help="Repository to check.")] = 1) -> None:
    """Check every backup file and archived WAL segment against its checksum."""
    with database(_settings()) as deployment, _steps() as step:
        step(f"verifying repository {repo}")
        ops.verify(deployment, repo_key=repo)
    console.print(f"repository {repo}: every backup and WAL segment matches its checksum")


@backup_app.command("drill")
@_operator_errors
def backup_drill(repo: Annotated[int, typer.Option(help="Repository to restore from.")] = 1) -> None:
    """Restore the latest backup into a scratch cluster and compare it with this one."""
    with database(_settings()) as deployment, _steps() as step:
        result = ops.drill(deployment, repo_key=repo, progress=step)
    console.print(f"drill passed: backup {result.backup_label} restored and replayed to {result.restore_point}; "
                  f"{result.tables} tables, {result.rows:,} rows identical ({result.seconds.get('total', 0):.1f} s)",
                  highlight=False)


@backup_app.command("dump")
@_operator_errors
def backup_dump(
    file: Annotated[Path, typer.Argument(help="Where to write the dump (pg_dump custom format).")],
    admin_url: Annotated[str | None, typer.Option(envvar="STUDIO_ADMIN_DATABASE_URL",
                                                     help="A superuser or BYPASSRLS login (external cluster only).")] = None,
) -> None:
    """A logical backup with pg_dump: the fallback for external clusters, and a portable
    export between PostgreSQL versions (restore it with pg_restore)."""
    settings = _settings()
    if settings.embedded:
        with database(settings) as deployment, _steps() as step:
            assert deployment.cluster is not None and deployment.superuser_password is not None
            step(f"pg_dump into {file}")
            size = logical_dump(deployment.cluster.conninfo(SUPERUSER, deployment.superuser_password,
                                                            settings.db_name), file, bindir=deployment.cluster.bindir)
    else:
        if not admin_url:
            _fail("an external cluster needs --admin-url (or STUDIO_ADMIN_DATABASE_URL): with forced row-level "
                  "security only a superuser or BYPASSRLS login can dump every row")
        with _steps() as step:
            step(f"pg_dump into {file}")
            size = logical_dump(make_conninfo(admin_url, dbname=settings.db_name), file)
    console.print(f"wrote {file} ({size / 1e6:,.1f} MB); restore with: pg_restore --dbname=<url> {file}",
                  highlight=False)


@backup_app.command("restore")
@_operator_errors
def backup_restore(
    target: Annotated[Path | None, typer.Option(help="A new, empty directory: becomes a Studio home "
                                                        "holding the restored database.")] = None,
    to_time: Annotated[str | None, typer.Option(help="Recover up to this moment (ISO 8601 with a zone); "
                                                        "default: the end of the archive.")] = None,
    set_label: Annotated[str | None, typer.Option("--set", help="Start from this backup (default: the "
                                                                  "latest one before --to-time).")] = None,
    repo: Annotated[int, typer.Option(help="1: local; 2: the S3 repository.")] = 1,
    in_place: Annotated[bool, typer.Option("--in-place", help="Replace this installation's database "
                                                              "(stops and restarts Studio).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --in-place without a prompt.")] = False,
) -> None:
    """Restore a backup, to a point in time if asked. Into a new directory by default;
    the running cluster is only touched with --in-place."""
    moment = _parse_time(to_time)
    settings = _settings()
    if in_place:
        if target is not None:
            _fail("--in-place and --target exclude each other")
        if not yes and not typer.confirm("Replace this installation's database with the backup?"):
            raise typer.Exit(1)
        with _steps() as step:
            kept = ops.restore_in_place(settings, to_time=moment, label=set_label, repo_key=repo, progress=step)
        console.print("restored in place" + (f"; the previous data directory is kept in {kept}" if kept else ""),
                      highlight=False)
        return
    target = (target or settings.home_dir / "restores" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")).resolve()
    with database(settings) as deployment, _steps() as step:
        cluster = ops.restore_copy(deployment, target, to_time=moment, label=set_label, repo_key=repo,
                                   progress=step)
    console.print(f"restored into {cluster.data_dir}. Run Studio on it with: STUDIO_HOME={target} studio up",
                  highlight=False)


@dev_app.command("seed")
@_operator_errors
def dev_seed(
    users: Annotated[int, typer.Option(min=1, help="Users to create (user 1 is the heaviest).")],
    rows: Annotated[int, typer.Option(min=0, help="Rows to write in all, users included.")],
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="The same seed writes the same data.")] = 1,
    admin_url: Annotated[str | None, typer.Option(envvar="STUDIO_ADMIN_DATABASE_URL",
                                                     help="A superuser login (external cluster only).")] = None,
) -> None:
    """Fill the database with made-up users and data at scale (refused in production).

    Conversations, generations, datasets... skewed like real data; docs/development.md."""
    from studio.dev import seed as seeding

    settings = _settings()
    try:
        seeding.refuse_production(settings.env)
        if not settings.embedded and not admin_url:
            _fail("an external cluster needs --admin-url (or STUDIO_ADMIN_DATABASE_URL): a superuser login, "
                  "since row-level security is forced on every table")
        with _steps() as step:
            if settings.embedded:
                with database(settings, migrate_to_head=True) as deployment:
                    assert deployment.cluster is not None and deployment.superuser_password is not None
                    report = seeding.seed(
                        deployment.cluster.conninfo(SUPERUSER, deployment.superuser_password, settings.db_name),
                        users=users, rows=rows, seed=seed, progress=step)
            else:
                assert admin_url is not None
                report = seeding.seed(make_conninfo(admin_url, dbname=settings.db_name),
                                      users=users, rows=rows, seed=seed, progress=step)
    except seeding.SeedError as exc:
        _fail(str(exc))
    table = Table(title=f"Seed {report.seed} in {settings.db_name}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.rows.items():
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total[/]", f"[bold]{report.total:,}[/]")
    out = Console()
    out.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    out.print(f"{report.users:,} users @{seeding.SEED_EMAIL_DOMAIN} (no password works); the heaviest is "
              f"{report.heavy_user_email} ({report.heavy_user_id}). Inserted in {report.seconds['insert']:.1f} s, "
              f"VACUUM (ANALYZE) {report.seconds['vacuum']:.1f} s.", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
