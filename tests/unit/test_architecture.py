"""The house rules, checked by reading the source (`ast`; nothing is imported).

a. The job queue (studio.jobs) knows no domain: it imports only studio.db, studio.config,
   studio.storage, studio.monitoring.logs and itself. Handlers are wired beside the app.
b. SQL lives in repositories: a `repository.py`, the data layer `studio/db/` (migrations
   included), the audit's checks and lints, and the dev seed. Elsewhere no string may
   start with an SQL statement keyword in capitals (docstrings and log messages aside),
   and nowhere is SQL an f-string: values are parameters, identifiers psycopg.sql.
c. An endpoints module imports no other domain's endpoints: domains call each other's
   services or repositories, never each other's HTTP layer.
d. A repository imports no service and no endpoints: the layers point downwards.
e. Every module sits in a package, except the entry points beside it (app, cli, config,
   worker) and the package's own __init__ / __main__.
f. Endpoints take what the application holds (database, storage, providers, settings,
   keys) through http/deps.py's dependencies, never from `request.app.state`.
g. One owner per table: a repository writes (INSERT, UPDATE, DELETE) only the tables
   docs/architecture.md's ownership table gives to its domain, and that table names
   every table the migrations create.

Each checker returns "path:line: why" strings; each rule also has a control that the
checker flags a small synthetic snippet, so a test cannot pass by checking nothing.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
QUEUE_MAY_IMPORT = ("studio.db", "studio.config", "studio.storage", "studio.monitoring.logs", "studio.jobs")
SQL_HOMES = ("studio/db/", "studio/audit/checks.py", "studio/audit/lints.py", "studio/dev/seed.py")
LOOSE_MODULES_ALLOWED = {"app.py", "cli.py", "config.py", "worker.py", "__init__.py", "__main__.py"}
SQL_KEYWORDS = ("SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|UNLISTEN|NOTIFY|BEGIN|COMMIT|ROLLBACK|CREATE|ALTER|DROP"
                "|GRANT|REVOKE|SET|TRUNCATE|VACUUM|ANALYZE|COPY|CHECKPOINT")
SQL_START = re.compile(rf"\s*(?:{SQL_KEYWORDS})[\s;]")  # a keyword in capitals, then a space or ;
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


@functools.cache
def sources() -> dict[str, ast.Module]:
    """'studio/jobs/worker.py' -> its syntax tree, for every module of the package."""
    return {path.relative_to(SRC).as_posix(): ast.parse(path.read_text(), str(path))
            for path in sorted((SRC / "studio").rglob("*.py"))}


def imports(path: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted name) of every import; `from a.b import c` gives a.b.c (c may be a
    module or a name: either way it comes from a.b). Relative imports are resolved."""
    package = path.removesuffix(".py").split("/")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, base if alias.name == "*" else f"{base}.{alias.name}") for alias in node.names]
    return found


def domain_of(path_or_module: str) -> str:
    return re.split(r"[./]", path_or_module)[1]


def check_queue_imports(path: str, tree: ast.Module) -> list[str]:
    if not path.startswith("studio/jobs/"):
        return []
    return [f"{path}:{line}: the queue imports the domain module {name}" for line, name in imports(path, tree)
            if name.startswith("studio.") and not any(name == ok or name.startswith(ok + ".")
                                                      for ok in QUEUE_MAY_IMPORT)]


def prose(tree: ast.Module) -> set[int]:
    """ids of the string nodes that are English, not SQL: docstrings (of the module, its
    classes and functions) and log messages (`log.warning("LISTEN connection lost")`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
              and node.func.attr in LOG_METHODS):
            found |= {id(part) for part in ast.walk(node.args[0])}
    return found


def check_sql_placement(path: str, tree: ast.Module) -> list[str]:
    skip = prose(tree)
    formatted = [f"{path}:{node.lineno}: SQL built with an f-string" for node in ast.walk(tree)
                 if isinstance(node, ast.JoinedStr) and node.values and id(node) not in skip
                 and isinstance(node.values[0], ast.Constant) and SQL_START.match(str(node.values[0].value))]
    if path.endswith("/repository.py") or path.startswith(SQL_HOMES):
        return formatted
    return formatted + [f"{path}:{node.lineno}: SQL outside a repository: {node.value.strip()[:60]!r}"
                        for node in ast.walk(tree)
                        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                        and SQL_START.match(node.value)]


def check_endpoint_imports(path: str, tree: ast.Module) -> list[str]:
    if not path.endswith("/endpoints.py"):
        return []
    return [f"{path}:{line}: an endpoints module imports another domain's endpoints: {name}"
            for line, name in imports(path, tree)
            if name.startswith("studio.") and "endpoints" in name.split(".")[2:]
            and domain_of(name) != domain_of(path)]


def check_repository_imports(path: str, tree: ast.Module) -> list[str]:
    if not path.endswith("/repository.py"):
        return []
    return [f"{path}:{line}: a repository imports {name}" for line, name in imports(path, tree)
            if name.startswith("studio.") and {"service", "endpoints"} & set(name.split(".")[2:])]


def check_app_state(path: str, tree: ast.Module) -> list[str]:
    if not path.endswith("/endpoints.py"):
        return []
    return [f"{path}:{node.lineno}: reads app.state (use a dependency from studio.http.deps)"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "state"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "app"]


def check_loose_modules(paths: list[str]) -> list[str]:
    return [f"{path}: a module outside any package (move it into one)" for path in paths
            if path.count("/") == 1 and path.removeprefix("studio/") not in LOOSE_MODULES_ALLOWED]


# Not FOR UPDATE (a lock) nor ON CONFLICT ... DO UPDATE (the table is the INSERT's).
WRITE = re.compile(r"(?<!FOR )(?<!DO )\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?(?:public\.|(auth)\.)?(\w+)")
CREATED = re.compile(r"CREATE TABLE (?:public\.|(auth)\.)(\w+)")


def _table(match: re.Match[str]) -> str:
    schema, name = match.groups()
    return f"{schema}.{name}" if schema else name


@functools.cache
def owners() -> dict[str, str]:
    """table -> owning domain, from the `| table | owner | ... |` rows of the doc."""
    rows = re.findall(r"^\| `([\w.]+)` \| (\w+) \|", ARCHITECTURE_DOC.read_text(), re.M)
    return dict(rows)


def check_table_writes(path: str, tree: ast.Module, table_owners: dict[str, str]) -> list[str]:
    if not path.endswith("/repository.py"):
        return []
    domain = domain_of(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in WRITE.finditer(node.value):
                table = _table(match)
                if table_owners.get(table) != domain:
                    found.append(f"{path}:{node.lineno}: the {domain} domain writes {table}, which belongs to "
                                 f"{table_owners.get(table, 'no domain in the ownership table')}")
    return found


def _violations(checker) -> list[str]:
    found = [v for path, tree in sources().items() for v in checker(path, tree)]
    return sorted(found, key=lambda v: (v.split(":")[0], int(v.split(":")[1])))


def _report(rule: str, violations: list[str]) -> str:
    return f"{rule}:\n  " + "\n  ".join(violations)


def test_the_queue_imports_no_domain():
    violations = _violations(check_queue_imports)
    assert not violations, _report("studio.jobs may import only " + ", ".join(QUEUE_MAY_IMPORT), violations)


def test_sql_lives_in_repositories():
    violations = _violations(check_sql_placement)
    assert not violations, _report("SQL belongs in a repository.py (or db/, the audit's checks and lints, "
                                   "the dev seed)", violations)


def test_no_endpoints_module_imports_another_domains_endpoints():
    violations = _violations(check_endpoint_imports)
    assert not violations, _report("call the other domain's service or repository instead", violations)


def test_no_repository_imports_a_service_or_endpoints():
    violations = _violations(check_repository_imports)
    assert not violations, _report("repositories are the bottom layer", violations)


def test_endpoints_read_no_app_state():
    violations = _violations(check_app_state)
    assert not violations, _report("endpoints get state through dependencies", violations)


def test_every_module_is_in_a_package():
    violations = check_loose_modules(list(sources()))
    assert not violations, _report("loose modules", violations)


def test_every_table_is_written_by_its_owner_only():
    table_owners = owners()
    migrations = "\n".join(path.read_text() for path in (SRC / "studio/db/migrations/versions").glob("*.py"))
    unowned = sorted({_table(m) for m in CREATED.finditer(migrations)} - set(table_owners))
    assert not unowned, f"tables missing from the ownership table in docs/architecture.md: {unowned}"
    violations = _violations(lambda path, tree: check_table_writes(path, tree, table_owners))
    assert not violations, _report("a table is written only by its owner's repository", violations)


def test_each_checker_flags_a_violation():
    """The controls: every rule catches a planted offence, and passes its clean twin."""
    def flags(checker, path: str, code: str) -> bool:
        return bool(checker(path, ast.parse(code)))

    assert flags(check_queue_imports, "studio/jobs/worker.py", "from studio.generation.tasks import handler")
    assert flags(check_queue_imports, "studio/jobs/worker.py", "from studio import chat")
    assert not flags(check_queue_imports, "studio/jobs/worker.py",
                     "from studio.db.scopes import WorkerScope\nfrom . import repository\nimport psycopg")
    assert flags(check_sql_placement, "studio/ops/drill.py", 'q = sql.SQL("LISTEN {}")')
    assert flags(check_sql_placement, "studio/ops/drill.py", 'q = f"""\n  SELECT * FROM {table} """')
    assert not flags(check_sql_placement, "studio/ops/drill.py",
                     'def f():\n    """SELECT the best plan."""\n    log.info("LISTEN lost")\n    return "Set up"')
    assert not flags(check_sql_placement, "studio/ops/repository.py", 'q = "SELECT 1 "')
    assert flags(check_sql_placement, "studio/jobs/repository.py", 'q = f"UPDATE public.jobs SET x = {value}"')
    assert flags(check_endpoint_imports, "studio/privacy/endpoints.py", "from studio.auth import endpoints")
    assert flags(check_endpoint_imports, "studio/sharing/endpoints.py", "from studio.media.endpoints import x")
    assert not flags(check_endpoint_imports, "studio/auth/endpoints.py", "from studio.auth.endpoints import x")
    assert flags(check_repository_imports, "studio/auth/repository.py", "from .service import login")
    assert flags(check_repository_imports, "studio/auth/repository.py", "from studio.chat import endpoints")
    assert not flags(check_repository_imports, "studio/auth/repository.py", "from studio.db.scopes import UserScope")
    assert check_loose_modules(["studio/app.py", "studio/health.py", "studio/health/endpoints.py"]) == [
        "studio/health.py: a module outside any package (move it into one)"]
    assert flags(check_app_state, "studio/media/endpoints.py", "s = request.app.state.storage")
    assert not flags(check_app_state, "studio/http/deps.py", "s = request.app.state.storage")
    owned = {"jobs": "jobs", "generations": "generation", "auth.credentials": "auth"}
    assert flags(lambda p, t: check_table_writes(p, t, owned), "studio/jobs/repository.py",
                 'q = "WITH x AS (SELECT 1) UPDATE public.generations g SET status = 1"')
    assert flags(lambda p, t: check_table_writes(p, t, owned), "studio/chat/repository.py",
                 'q = "UPDATE auth.credentials SET x = 1"')
    assert not flags(lambda p, t: check_table_writes(p, t, owned), "studio/jobs/repository.py",
                     'q = "UPDATE public.jobs SET status = 1 FROM public.generations g FOR UPDATE SKIP LOCKED"')
