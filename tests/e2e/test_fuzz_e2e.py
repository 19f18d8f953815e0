"""The fuzz tier: schemathesis, a property-based fuzzer, generates requests from the
whole OpenAPI document (every operation, its parameters, bodies and their edges, then
stateful sequences that feed one answer's ids into the next request) and sends them to
a real `studio up` as a signed-in admin with an API key, which reaches the admin
endpoints and every user endpoint. The checks: all of schemathesis's but one
(fuzz.toml says which and why). No answer is a server error, whatever the input (502
and 503 only where Studio speaks for a provider it cannot reach or a dependency that is
down), and every answer is the documented one: status, body schema, content type,
headers, 405 and its Allow for a method a path does not take; what was created can be
read, what was deleted is gone, and input the schema forbids is refused.

Bounded for CI (a few examples per operation, a fixed seed); `make fuzz` runs the long
version. Excluded, with the reason: `DELETE /v1/me` (it erases the fuzzing account,
ending the run) and `DELETE /v1/api-keys/{key_id}` (the stateful phase lists the keys
and would revoke the one it is using). Rate limits are off for the run: the fuzzer
would spend it on 429s."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import Lab, child_env, client, free_port, needs_postgres, sign_up_and_log_in, superuser_sql

pytestmark = [pytest.mark.slow, needs_postgres]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("fuzz.toml")  # which 5xx are Studio's truthful answers
EXCLUDED = r"^/v1/(me|api-keys/\{key_id\})$"
EXAMPLES = int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "8"))
REPORT = os.environ.get("STUDIO_FUZZ_REPORT")  # `make fuzz`: where its figures go
# The CI run replays one seed, so a red build points at a change rather than at luck;
# finding new inputs is the long run's job (`make fuzz` draws a fresh seed, and prints it).
SEED = os.environ.get("STUDIO_FUZZ_SEED", "15")
CHECKS = os.environ.get("STUDIO_FUZZ_CHECKS", "all")


def fuzz(base_url: str, key: str, *, examples: int, timeout: float, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color", "run", f"{base_url}/openapi.json", "--header", f"Authorization: Bearer {key}",
         "--checks", CHECKS, "--max-examples", str(examples), "--exclude-path-regex", EXCLUDED,
         *(["--seed", SEED] if SEED != "random" else []),
         # Off: see fuzz.toml (a CLI --checks all would turn it on again).
         "--exclude-checks", "positive_data_acceptance",
         "--workers", "1"],  # one thread: Python 3.11 can raise a spurious SystemError parsing ASTs in threads
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        cwd=cache)  # schemathesis keeps a cache of failures in the working directory


def test_no_input_makes_studio_answer_with_a_server_error(lab: Lab, tmp_path: Path) -> None:
    home = lab.home()
    port = free_port()
    up = lab.start(["up"], child_env(home, port, STUDIO_RATE_LIMITS_ENABLED="false", STUDIO_BACKUP_ENABLED="false"))
    up.wait_ready(port)
    with client(port) as http:
        user = sign_up_and_log_in(http)
        superuser_sql(home, "UPDATE users SET role = 'admin' WHERE id = %s", (user["id"],))
        made = http.post("/v1/api-keys", json={"name": "fuzzer"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]

    started = time.monotonic()
    result = fuzz(f"http://127.0.0.1:{port}", key, examples=EXAMPLES, timeout=600 + 60 * EXAMPLES, cache=tmp_path)
    seconds = time.monotonic() - started
    report = result.stdout + result.stderr
    if os.environ.get("STUDIO_FUZZ_LOG"):
        Path(os.environ["STUDIO_FUZZ_LOG"]).write_text(report)
    if REPORT:
        _write_figures(Path(REPORT), report, seconds, ok=result.returncode == 0)
    assert result.returncode == 0, report[-12000:] + "\n" + up.describe()
    generated = [line for line in report.splitlines() if "generated" in line and "passed" in line]
    assert generated, report[-4000:]
    print(generated[-1])  # "N generated, N passed": the figure for the record
    assert "Traceback" not in up.stderr, up.describe()
    assert up.terminate() == 0, up.describe()


def _write_figures(path: Path, report: str, seconds: float, *, ok: bool) -> None:
    def last(pattern: str) -> str:
        found = re.findall(pattern, report)
        return found[-1].strip() if found else "?"

    version, cases = last(r"Schemathesis v([0-9.]+)"), last(r"([0-9]+ generated[^\n]*)")
    tested, selected, seed = last(r"Tested: ([0-9]+)"), last(r"Selected: ([0-9/]+)"), last(r"Seed: ([0-9]+)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# The fuzz tier, long run\n\n"
        f"`make fuzz` (STUDIO_FUZZ_EXAMPLES={EXAMPLES}): schemathesis {version} over the whole OpenAPI document "
        "against a real `studio up`, as an admin with an API key; checks: all but positive_data_acceptance "
        "(tests/e2e/fuzz.toml): no server error, and every answer the documented one.\n\n"
        "| figure | value |\n|---|---|\n"
        f"| result | {'passed' if ok else 'FAILED'} |\n"
        f"| test cases | {cases} |\n"
        f"| operations | {tested} tested ({selected} selected; the rest excluded, see the test) |\n"
        f"| seconds | {seconds:.0f} |\n"
        f"| seed | {seed} |\n")
