"""The alert rules in deploy/prometheus against Prometheus's own tool (promtool): they
parse, their unit tests pass (each alert fires when it should and not on a blip), the
documentation's table says the same, and every metric they use is in a real scrape of
/metrics, which itself passes promtool's lint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.api.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "studio-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "studio-alerts.test.yml"
MONITORING_DOC = ROOT / "docs" / "operations" / "monitoring.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (make test installs it as root)"
    return found


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_the_rules_parse_and_their_unit_tests_pass(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_documented_alerts_are_the_rules() -> None:
    documented = {name: (expr.replace("\\|", "|"), for_, severity) for name, expr, for_, severity in
                  re.findall(r"^\| (\w+) \| `(.+?)` \| (\w+) \| (\w+) \|$", MONITORING_DOC.read_text(), re.M)}
    defined = {r["alert"]: (r["expr"].strip(), r["for"], r["labels"]["severity"]) for r in rules()}
    assert documented == defined


def test_a_real_scrape_passes_the_lint_and_has_every_metric_the_alerts_use(server: Server, admin_conn,
                                                                           promtool: str) -> None:
    # Some families appear only once there is something to report: a backup, a drill, an ended job.
    admin_conn.execute("INSERT INTO backup_runs (kind, backup_type, status, finished_at)"
                       " VALUES ('backup', 'full', 'succeeded', now()), ('drill', NULL, 'succeeded', now())")
    admin_conn.execute("INSERT INTO jobs (kind, status) VALUES ('maintenance', 'succeeded')")
    with server.client() as client:
        client.get("/healthz")  # at least one request observed
        scrape = client.get("/metrics").text
    lint = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    exposed = set(re.findall(r"^(\w+)", scrape, re.M))
    used = {name for rule in rules() for name in re.findall(r"\b(studio_\w+)", rule["expr"])}
    assert len(used) > 15
    missing = sorted(name for name in used if name not in exposed)
    assert not missing, f"alerts use metrics that /metrics does not expose: {missing}"
