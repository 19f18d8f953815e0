"""Backups as an operator uses them: `studio up` archiving WAL with pgBackRest, `studio
backup create`, the cluster destroyed, `studio backup restore --in-place --to-time T`,
and Studio back with exactly what was committed before T, media files included."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from studio.db.embedded import EmbeddedCluster

from .support import (
    PASSWORD,
    Lab,
    StudioProcess,
    child_env,
    client,
    create_generation,
    free_port,
    model_id,
    needs_postgres,
    sign_up_and_log_in,
    superuser_sql,
    wait_generation,
)

_MISSING = [tool for tool in ("pgbackrest", "espeak-ng") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.slow,
    needs_postgres,
    pytest.mark.skipif(bool(_MISSING), reason=f"not installed: {', '.join(_MISSING)}"),
]


def _conversation(http: httpx.Client, title: str) -> str:
    response = http.post("/v1/conversations", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _speech(http: httpx.Client, prompt: str, procs: list[StudioProcess]) -> dict:
    created = create_generation(http, "audio", model_id(http, "espeak-en"), prompt)
    done = wait_generation(http, created["id"], {"succeeded", "failed"}, 60, procs)
    assert done["status"] == "succeeded", done
    return done


def _archive_now(home: Path) -> None:
    """What archive_timeout does within a minute on a quiet server: close the current
    WAL segment and wait until pgBackRest has archived it."""
    [(segment,)] = superuser_sql(home, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    superuser_sql(home, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 60
    while True:
        [(archived, failed)] = superuser_sql(home, "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")
        if archived is not None and archived[8:] >= segment[8:]:
            return
        assert time.monotonic() < deadline, f"segment {segment} not archived (last {archived}, failed {failed})"
        time.sleep(0.2)


def _titles(http: httpx.Client) -> set[str]:
    response = http.get("/v1/conversations")
    assert response.status_code == 200, response.text
    return {item["title"] for item in response.json()["items"]}


def test_point_in_time_recovery_brings_back_rows_and_files_as_of_t(lab: Lab):
    home = lab.home()
    port = free_port()
    env = child_env(home, port)
    up = lab.start(["up"], env)
    up.wait_ready(port)

    with client(port) as http:
        user = sign_up_and_log_in(http)
        _conversation(http, "before the backup")
        kept = _speech(http, "Recorded before the backup.", [up])

        backup = lab.run(["backup", "create"], env)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        # The logical fallback too: every row, despite forced row-level security.
        dump = home / "studio.dump"
        dumped = lab.run(["backup", "dump", str(dump)], env)
        assert dumped.returncode == 0, dumped.stdout + dumped.stderr
        listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
        assert "TABLE DATA public conversations" in listing.stdout and "TABLE DATA auth credentials" in listing.stdout

        _conversation(http, "after the backup")
        later = _speech(http, "Recorded after the backup.", [up])
        originals = {g["id"]: http.get(g["result"]["media"][0]["url"]).content for g in (kept, later)}

        time.sleep(1.1)
        moment = datetime.now(UTC)
        time.sleep(1.1)

        _conversation(http, "after T")
        deleted = http.delete(f"/v1/generations/{kept['id']}")  # its file is retired by the outbox
        assert deleted.status_code == 204, deleted.text
        deadline = time.monotonic() + 30
        while superuser_sql(home, "SELECT count(*) FROM storage_deletions") != [(0,)]:
            assert time.monotonic() < deadline, "the outbox did not process the deletion"
            time.sleep(0.2)
        [(key,)] = superuser_sql(home, "SELECT key FROM media_objects WHERE generation_id = %s", (later["id"],))
        _archive_now(home)

    assert up.terminate() == 0, up.describe()
    # The cluster is lost: its data directory (WAL included) is gone.
    cluster = EmbeddedCluster(home)
    assert not cluster.is_running()
    shutil.rmtree(cluster.data_dir)

    restore = lab.run(["backup", "restore", "--in-place", "--yes", "--to-time", moment.isoformat()], env)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "1 revived" in restore.stderr + restore.stdout, restore.stderr

    up = lab.start(["up"], env)
    up.wait_ready(port)
    with client(port) as http:
        login = http.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
        # Exactly the rows committed before T.
        assert _titles(http) == {"before the backup", "after the backup"}
        generations = {g["id"] for g in http.get("/v1/generations").json()["items"]}
        assert generations == {kept["id"], later["id"]}
        # And their files, with the same bytes: the one deleted after T was revived.
        for generation in (kept, later):
            body = http.get(f"/v1/generations/{generation['id']}").json()
            download = http.get(body["result"]["media"][0]["url"])
            assert download.status_code == 200 and download.content == originals[generation["id"]]
    assert key  # the restored rows point at the same keys as before
    assert up.terminate() == 0, up.describe()


def test_disaster_recovery_from_the_s3_repository_on_a_new_home(lab: Lab, tls_s3):
    """docs/operations/disaster-recovery.md, step by step: the primary's home is lost;
    a new home gets the secrets and the settings, `studio backup restore --in-place
    --yes --repo 2` restores from the encrypted S3 repository, `studio up` runs on it."""
    bucket = f"dr-{uuid.uuid4().hex[:10]}"
    tls_s3.client().create_bucket(Bucket=bucket)
    offsite = {"STUDIO_BACKUP_S3_BUCKET": bucket, "STUDIO_BACKUP_S3_ENDPOINT": tls_s3.endpoint,
               "STUDIO_BACKUP_S3_URI_STYLE": "path", "STUDIO_BACKUP_S3_ACCESS_KEY_ID": "testing",
               "STUDIO_BACKUP_S3_SECRET_ACCESS_KEY": "testing", "STUDIO_BACKUP_S3_CA_FILE": str(tls_s3.ca_file),
               "STUDIO_BACKUP_CIPHER_PASS": "a-long-offsite-passphrase-for-the-dr-test-0123"}
    lost = lab.home()
    port = free_port()
    up = lab.start(["up"], child_env(lost, port, **offsite))
    up.wait_ready(port)
    with client(port) as http:
        user = sign_up_and_log_in(http)
        _conversation(http, "written on the lost machine")
        backup = lab.run(["backup", "create", "--repo", "2"], child_env(lost, port, **offsite))
        assert backup.returncode == 0, backup.stdout + backup.stderr
        _conversation(http, "written after the offsite backup")
        _archive_now(lost)  # WAL reaches both repositories
    assert up.terminate() == 0, up.describe()
    secrets_env = (lost / "secrets.env").read_text()
    cluster = EmbeddedCluster(lost)
    shutil.rmtree(cluster.pg_dir)  # the disk is gone: cluster, local repository, all

    new = lab.home()
    new.mkdir(parents=True, exist_ok=True)
    (new / "secrets.env").write_text(secrets_env)  # step 2: from the secret store
    (new / "secrets.env").chmod(0o600)
    env = child_env(new, port, **offsite)
    restore = lab.run(["backup", "restore", "--in-place", "--yes", "--repo", "2"], env)  # step 3
    assert restore.returncode == 0, restore.stdout + restore.stderr

    up = lab.start(["up"], env)  # step 4
    up.wait_ready(port)
    with client(port) as http:
        login = http.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        assert _titles(http) == {"written on the lost machine", "written after the offsite backup"}
    listed = lab.run(["backup", "list"], env)  # step 5: the new local repository fills
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert up.terminate() == 0, up.describe()
