"""Backups with pgBackRest against real embedded clusters: full and differential
backups, verify, the restore drill, corruption detection, and an encrypted S3
repository on a moto_server speaking TLS. No mocks: every step runs pgBackRest and
PostgreSQL as the postgres OS user."""

from __future__ import annotations

import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from studio.db.embedded import SUPERUSER, EmbeddedCluster
from studio.ops.backup import STANZA, BackupError
from studio.ops.drill import DrillFailed, run_drill, wait_promoted
from tests.conftest import free_port
from tests.ops.conftest import (
    PLAINTEXT_MARKER,
    BackedUpCluster,
    TlsS3,
    backed_up_cluster,
    remove_cluster,
)


def test_full_then_diff_are_listed_and_verify(source: BackedUpCluster) -> None:
    br = source.backrest
    full = br.backup("full")
    source.insert(200)
    diff = br.backup("diff")

    assert full.type == "full" and full.prior is None and full.repo == 1
    assert diff.type == "diff" and diff.repo == 1
    assert diff.prior == full.label
    assert diff.label != full.label and diff.label.startswith(full.label)  # pgBackRest: <full>_<diff>D
    assert full.stopped_at >= full.started_at
    assert diff.started_at >= full.stopped_at
    assert full.database_bytes > 0 and full.repo_bytes > 0
    # A differential backup stores only what changed since the full one.
    assert 0 < diff.repo_bytes < full.repo_bytes

    listed = br.backups(1)
    assert [b.label for b in listed][-2:] == [full.label, diff.label]  # oldest first
    assert listed[-1] == diff
    assert br.backups() == listed  # one repository only
    assert br.backups(2) == []
    assert (br.repo_path / "backup" / STANZA / full.label / "backup.manifest").exists()
    assert (br.repo_path / "backup" / STANZA / diff.label / "backup.manifest").exists()

    br.verify()  # raises on anything missing or corrupt
    br.check()   # archiving works end to end


def test_drill_passes_with_writes_after_the_backup(source: BackedUpCluster) -> None:
    br = source.backrest
    backup = br.backup("full")
    source.insert(321)  # after the backup: only in the archived WAL
    source.execute("DELETE FROM public.t WHERE id IN (SELECT id FROM public.t ORDER BY id DESC LIMIT 5)")
    source.execute("UPDATE public.t SET payload = payload || '-updated' WHERE id % 7 = 0")
    expected_rows = source.count()
    scratch = source.cluster.pg_dir / "drill"

    result = run_drill(br, password=source.password, dbname="postgres", scratch=scratch)

    assert result.ok, result.mismatches
    assert result.mismatches == []
    assert result.backup_label == backup.label
    assert result.tables == 1
    assert result.rows == expected_rows
    assert result.restore_point.startswith("studio-drill-")
    assert {"mark", "restore", "recovery", "total"} <= result.seconds.keys()
    assert not scratch.exists()
    # The source is untouched and still archiving.
    assert source.count() == expected_rows
    br.check()


def _flip_bytes(path: Path, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, min(middle + count, len(data))):
        data[i] ^= 0xFF
    with path.open("r+b") as handle:  # in place: owner and mode stay the postgres user's
        handle.write(data)


def test_corrupt_backup_file_fails_verify_and_drill(tmp_path: Path) -> None:
    with backed_up_cluster(tmp_path / "home", rows=20_000) as corrupt:
        br = corrupt.backrest
        relation = corrupt.execute("SELECT pg_relation_filepath('public.t')")[0][0]  # base/<db>/<relfilenode>
        backup = br.backup("full")
        br.verify()  # intact so far: what fails below fails because of the corruption

        stored = br.repo_path / "backup" / STANZA / backup.label / "pg_data" / f"{relation}.lz4"
        assert stored.is_file(), sorted(p.name for p in stored.parent.iterdir())
        assert stored.stat().st_size > 100_000  # a real relation file, not an empty one
        _flip_bytes(stored)

        with pytest.raises(BackupError) as verify_error:
            br.verify()
        assert "pgbackrest verify" in str(verify_error.value)
        assert f"{backup.label}/pg_data/{relation}.lz4" in str(verify_error.value)  # names the bad file

        scratch = corrupt.cluster.pg_dir / "drill"
        with pytest.raises((BackupError, DrillFailed)):
            run_drill(br, password=corrupt.password, dbname="postgres", scratch=scratch)
        assert not scratch.exists()


def _bucket_objects(client, bucket: str) -> dict[str, bytes]:
    """Every object of the bucket, read in parallel (a thousand small files)."""
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = pool.map(lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read(), keys)
        return dict(zip(keys, bodies, strict=True))


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_s3_repository_encrypted_and_restorable(tmp_path: Path, tls_s3: TlsS3) -> None:
    bucket = f"studio-backups-{secrets.token_hex(4)}"
    s3 = tls_s3.client()
    s3.create_bucket(Bucket=bucket)
    overrides = {"backup_s3_bucket": bucket, "backup_s3_endpoint": tls_s3.endpoint,
                 "backup_s3_uri_style": "path", "backup_s3_access_key_id": "testing",
                 "backup_s3_secret_access_key": "testing", "backup_s3_ca_file": tls_s3.ca_file,
                 "backup_cipher_pass": "x" * 40, "backup_s3_region": "us-east-1"}
    restored_home = tmp_path / "restored"
    restored = EmbeddedCluster(restored_home, port=free_port(), settings={"archive_mode": "off"})
    try:
        with backed_up_cluster(tmp_path / "home", rows=500, **overrides) as source:
            br = source.backrest
            assert br.repos == [1, 2]
            backup = br.backup("full", repo=2)
            assert backup.repo == 2 and backup.type == "full"
            assert [b.label for b in br.backups(2)] == [backup.label]
            assert br.backups(1) == []  # went to the bucket only
            source.insert(250)  # after the backup: only in the archived WAL (pushed to both repositories)
            expected_rows = source.count()
            br.check()  # forces a WAL switch and waits until the segment is in every repository

            # Everything in the bucket is encrypted: no plain pgBackRest info file, no row text.
            objects = _bucket_objects(s3, bucket)
            info_keys = [key for key in objects if key.endswith(f"backup/{STANZA}/backup.info")]
            assert info_keys, sorted(objects)
            assert any("/archive/" in key for key in objects), sorted(objects)
            assert any(key.endswith(".lz4") for key in objects), sorted(objects)
            for key, body in objects.items():
                assert PLAINTEXT_MARKER.encode() not in body, key
                assert b"[backrest]" not in body, key        # the header of every plain info file
                assert b"backrest-format" not in body, key
            for key in info_keys:
                assert objects[key].startswith(b"Salted__"), key  # OpenSSL aes-256-cbc envelope
            # The control: the same WAL in the unencrypted local repository shows the marker
            # (lz4 keeps unique text as literals), so the search above would find plaintext.
            assert _files_containing(br.repo_path / "archive", PLAINTEXT_MARKER.encode())
            assert _files_containing(br.repo_path / "backup", b"[backrest]")

            # Lose the source: stop it and delete its data directory and local repository.
            source.cluster.stop()
            shutil.rmtree(source.cluster.data_dir)
            shutil.rmtree(br.repo_path)

            br.restore(restored, repo=2)
            restored.start(timeout=300)
            wait_promoted(restored, source.password, "postgres", timeout=300)
            with psycopg.connect(restored.conninfo(SUPERUSER, source.password), autocommit=True) as conn:
                rows = conn.execute("SELECT count(*) FROM public.t").fetchone()[0]
                marker = conn.execute("SELECT count(*) FROM public.t WHERE payload = %s",
                                      (PLAINTEXT_MARKER,)).fetchone()[0]
                in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            assert rows == expected_rows
            assert marker == 1
            assert in_recovery is False
    finally:
        remove_cluster(restored, restored_home)
