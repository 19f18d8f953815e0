"""scripts/build_web.sh on a small stand-in for web/: it builds when the output is missing
or an input changed, says "up to date" otherwise, reinstalls packages when the lockfile
changes, and never marks a failed build as done. Real node and npm, no network (the
stand-in has no dependencies)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The stand-in build writes the index and counts itself in a file outside the inputs.
BUILD = """
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
if (readFileSync('src/app.txt', 'utf8').includes('broken')) { console.error('build error: broken'); process.exit(1); }
mkdirSync('../src/studio/web/app', { recursive: true });
writeFileSync('../src/studio/web/app/index.html', '<!doctype html>');
appendFileSync('../builds.log', 'x');
console.log('budget: /login: 1.0 KB gzipped (1 files), limit 250 KB');
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed (scripts/build_web.sh installs or names them)")
    (tmp_path / "scripts").mkdir()
    for name in ("build_web.sh", "common.sh"):
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "scripts").mkdir()
    (web / "tests").mkdir()
    (web / "src" / "app.txt").write_text("hello")
    (web / "scripts" / "build.mjs").write_text(BUILD)
    package = {"name": "stand-in", "version": "1.0.0", "private": True, "scripts": {"build": "node scripts/build.mjs"}}
    (web / "package.json").write_text(json.dumps(package))
    write_lock(web, "1.0.0")
    return tmp_path


def write_lock(web: Path, version: str) -> None:
    package = json.loads((web / "package.json").read_text())
    package["version"] = version
    (web / "package.json").write_text(json.dumps(package))
    lock = {"name": "stand-in", "version": version, "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "stand-in", "version": version}}}
    (web / "package-lock.json").write_text(json.dumps(lock))


def run(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(tree / "scripts" / "build_web.sh")], capture_output=True, text=True,
                          timeout=300, check=False)


def builds(tree: Path) -> int:
    log = tree / "builds.log"
    return len(log.read_text()) if log.exists() else 0


def test_builds_once_then_only_when_an_input_changes(tree: Path) -> None:
    first = run(tree)
    assert first.returncode == 0, first.stderr
    assert "installing the web app's packages" in first.stderr
    assert "web: budget: /login" in first.stderr
    assert builds(tree) == 1

    again = run(tree)
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip() == "web: web app is up to date"
    assert builds(tree) == 1

    (tree / "web" / "tests" / "a.test.ts").write_text("// not an input")
    assert run(tree).returncode == 0 and builds(tree) == 1

    (tree / "web" / "src" / "app.txt").write_text("changed")
    assert run(tree).returncode == 0 and builds(tree) == 2
    (tree / "web" / "static").mkdir()
    (tree / "web" / "static" / "robots.txt").write_text("new file")
    assert run(tree).returncode == 0 and builds(tree) == 3
    (tree / "web" / "vite.config.ts").write_text("export default {}")
    assert run(tree).returncode == 0 and builds(tree) == 4

    (tree / "src" / "studio" / "web" / "app" / "index.html").unlink()
    assert run(tree).returncode == 0 and builds(tree) == 5
    assert "up to date" in run(tree).stderr and builds(tree) == 5


def test_a_failed_build_fails_and_is_tried_again(tree: Path) -> None:
    assert run(tree).returncode == 0
    (tree / "web" / "src" / "app.txt").write_text("broken")
    failed = run(tree)
    assert failed.returncode != 0
    assert "build error: broken" in failed.stderr and "the web app did not build" in failed.stderr
    assert not (tree / "src" / "studio" / "web" / "app" / ".inputs.sha256").exists()
    assert run(tree).returncode != 0  # still broken: not skipped

    (tree / "web" / "src" / "app.txt").write_text("fixed")
    assert run(tree).returncode == 0 and "up to date" in run(tree).stderr


def test_packages_are_reinstalled_when_the_lockfile_changes(tree: Path) -> None:
    assert "installing" in run(tree).stderr
    assert "installing" not in run(tree).stderr
    write_lock(tree / "web", "1.0.1")
    changed = run(tree)
    assert changed.returncode == 0, changed.stderr
    assert "installing the web app's packages" in changed.stderr and builds(tree) == 2

    shutil.rmtree(tree / "web" / "node_modules")
    assert "installing" in run(tree).stderr
