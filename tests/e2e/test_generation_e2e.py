"""Generations end to end: real `studio` processes (API, workers, the embedded
PostgreSQL run as the `postgres` OS user), real espeak-ng and ffmpeg, HTTP on 127.0.0.1.

1. `studio up` on a fresh home produces a WAV and an MP4 that ffprobe accepts, and
   stops cleanly on SIGTERM.
2. A worker SIGKILLed in the middle of a job: its lease expires, another worker rescues
   the job and runs it again; the generation succeeds once (attempts 2, one media object).
3. PostgreSQL restarted while two workers chew through 200 jobs: the API and the workers
   ride it out, every generation succeeds exactly once.
4. A worker's connection drops after it uploaded a result but before recording it; the
   retry succeeds, and its file must survive the storage outbox (each run writes its own keys).

Tests 2-4 need workers they control (one to kill, two of their own), so they do not
use `studio up`, whose built-in worker would compete for the jobs: `studio db upgrade`
initialises and migrates the home, the test starts the embedded cluster itself
(EmbeddedCluster(home).start()), and then runs `studio api` and `studio worker`, which on
an embedded home read their credentials from $STUDIO_HOME/secrets.env while the cluster
runs. The Lab stops every process and the cluster afterwards, whatever happened.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from studio.db.embedded import EmbeddedCluster
from studio.jobs.worker import WorkerOptions

from .support import (
    Lab,
    StudioProcess,
    alive,
    child_env,
    descendants,
    free_port,
    needs_postgres,
    port_answers,
    postmaster_pid,
)
from .support import (
    client as _client,
)
from .support import (
    create_generation as _create,
)
from .support import (
    describe as _describe,
)
from .support import (
    home_secrets as _secrets,
)
from .support import (
    model_id as _model_id,
)
from .support import (
    sign_up_and_log_in as _sign_up_and_log_in,
)
from .support import (
    superuser_sql as _sql,
)
from .support import (
    wait_generation as _wait_generation,
)

_MISSING_TOOLS = [tool for tool in ("espeak-ng", "ffmpeg", "ffprobe") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.slow,
    needs_postgres,
    pytest.mark.skipif(bool(_MISSING_TOOLS), reason=f"not installed: {', '.join(_MISSING_TOOLS)}"),
]

TERMINAL = {"succeeded", "failed", "canceled"}
LEASE_SECONDS = 8.0  # STUDIO_WORKER_LEASE_SECONDS for the workers these tests start: a quick rescue
RESCUE_EVERY = WorkerOptions().rescue_every


# --------------------------------------------------------------------------- helpers














def _download(client: httpx.Client, media: dict[str, Any], into: Path) -> Path:
    response = client.get(media["url"])
    assert response.status_code == 200, response.text
    assert len(response.content) == media["size"]
    into.write_bytes(response.content)
    return into


def _ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                             str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"ffprobe rejected {path.name}: {result.stderr}"
    return json.loads(result.stdout)






def _worker_id(proc: StudioProcess) -> str:
    """What WorkerOptions.worker_id is in that process."""
    return f"{socket.gethostname()}:{proc.pid}"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _serve(lab: Lab, home: Path, **env: str) -> tuple[StudioProcess, int]:
    """The home initialised and migrated by `studio db upgrade`, its cluster started by
    this test (left running), and a stand-alone `studio api` on it (`env` added to its
    environment)."""
    upgraded = lab.run(["db", "upgrade"], child_env(home))
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    cluster = EmbeddedCluster(home)
    assert not cluster.is_running(), "`studio db upgrade` should stop the cluster it started"
    cluster.start()
    port = free_port()
    # The batch test enqueues 200 jobs in seconds: above the default per-user rate limit.
    api = lab.start(["api"], child_env(home, port, STUDIO_RATE_LIMIT_GENERATIONS_PER_MINUTE="1000", **env))
    api.wait_ready(port)
    return api, port


def _start_worker(lab: Lab, home: Path, **env: str) -> StudioProcess:
    worker = lab.start(["worker"], child_env(home, STUDIO_WORKER_LEASE_SECONDS=str(LEASE_SECONDS), **env))
    worker.wait_output("started (concurrency", timeout=60)
    return worker


# --------------------------------------------------------------------------- 1. studio up


def test_up_generates_speech_and_video_then_stops_cleanly(lab: Lab, tmp_path: Path):
    home = lab.home()
    port = free_port()
    up = lab.start(["up"], child_env(home, port))
    up.wait_ready(port)

    with _client(port) as client:
        _sign_up_and_log_in(client)
        audio = _create(client, "audio", _model_id(client, "espeak-en"), "Hello from the end to end test")
        video = _create(client, "video", _model_id(client, "ffmpeg-video"), "Studio, end to end",
                        {"duration_seconds": 3, "width": 320, "height": 240})
        assert audio["status"] == "queued" and video["status"] == "queued"

        done_audio = _wait_generation(client, audio["id"], TERMINAL, 60, [up])
        done_video = _wait_generation(client, video["id"], TERMINAL, 90, [up])
        assert done_audio["status"] == "succeeded", done_audio
        assert done_video["status"] == "succeeded", done_video
        assert done_audio["progress"] == 100 and done_audio["attempts"] == 1
        assert done_video["progress"] == 100 and done_video["attempts"] == 1

        [audio_media] = done_audio["result"]["media"]
        [video_media] = done_video["result"]["media"]
        wav = _download(client, audio_media, tmp_path / "speech.wav")
        mp4 = _download(client, video_media, tmp_path / "video.mp4")

    probe = _ffprobe(wav)
    assert probe["format"]["format_name"] == "wav", probe["format"]
    [stream] = probe["streams"]
    assert stream["codec_type"] == "audio" and stream["codec_name"].startswith("pcm_"), stream
    assert float(probe["format"]["duration"]) > 0.5, probe["format"]

    probe = _ffprobe(mp4)
    assert "mp4" in probe["format"]["format_name"].split(","), probe["format"]
    [stream] = [s for s in probe["streams"] if s["codec_type"] == "video"]
    assert stream["codec_name"] == "h264", stream
    assert (stream["width"], stream["height"]) == (320, 240), stream
    assert abs(float(probe["format"]["duration"]) - 3.0) <= 0.1, probe["format"]

    # SIGTERM: exit 0, API gone, the home's postgres stopped.
    cluster = EmbeddedCluster(home)
    postmaster = postmaster_pid(cluster)
    assert postmaster is not None and alive(postmaster)
    code = up.terminate()
    assert code is not None, f"studio up ignored SIGTERM:\n{up.describe()}"
    assert code == 0, f"studio up exited {code} after SIGTERM:\n{up.describe()}"
    assert "Studio stopped." in up.stderr
    assert not port_answers(port)
    assert not cluster.is_running() and not alive(postmaster)
    assert not (cluster.data_dir / "postmaster.pid").exists()


# --------------------------------------------------------------------------- 2. kill -9 a worker


def test_worker_killed_mid_job_is_rescued_and_the_job_runs_once_more(lab: Lab, tmp_path: Path):
    home = lab.home()
    api, port = _serve(lab, home)
    doomed = _start_worker(lab, home)  # the only worker: the job is its

    with _client(port) as client:
        _sign_up_and_log_in(client)
        # ~7 s of encoding on 2 cores: long enough to be killed in the middle.
        params = {"duration_seconds": 20, "width": 1920, "height": 1080, "fps": 60}
        created = _create(client, "video", _model_id(client, "ffmpeg-video"), "Killed mid-way", params)

        # Running, with ffmpeg at work under the worker.
        deadline = time.monotonic() + 60
        encoders: list[int] = []
        while time.monotonic() < deadline:
            status = client.get(f"/v1/generations/{created['id']}").json()["status"]
            assert status in ("queued", "running"), f"the job ended ({status}) before it could be killed"
            encoders = [pid for pid in descendants(doomed.pid) if "ffmpeg" in _cmdline(pid)]
            if status == "running" and encoders:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the job never ran ffmpeg under the worker:\n{_describe([api, doomed])}")
        [(holder, attempts)] = _sql(home, "SELECT worker_id, attempts FROM jobs WHERE generation_id = %s",
                                    (created["id"],))
        assert (holder, attempts) == (_worker_id(doomed), 1)

        doomed.kill()  # SIGKILL, ffmpeg included
        assert doomed.proc.returncode == -9
        assert not any(alive(pid) for pid in encoders), "ffmpeg outlived its killed worker"
        killed_at = time.monotonic()
        # Nobody may have finished it: it stays running until its lease expires.
        assert client.get(f"/v1/generations/{created['id']}").json()["status"] == "running"

        rescuer = _start_worker(lab, home)
        # Lease (30 s from the last heartbeat) + a rescue round + a full encode again.
        done = _wait_generation(client, created["id"], TERMINAL, LEASE_SECONDS + RESCUE_EVERY + 120, [api, rescuer])
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2, done
        assert done["error"] is None and done["progress"] == 100
        # Not re-run before the lease could have expired.
        assert time.monotonic() - killed_at > LEASE_SECONDS - LEASE_SECONDS / 3 - 1
        [media] = done["result"]["media"]
        mp4 = _download(client, media, tmp_path / "video.mp4")

    probe = _ffprobe(mp4)
    [stream] = [s for s in probe["streams"] if s["codec_type"] == "video"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1920, 1080)
    assert abs(float(probe["format"]["duration"]) - 20.0) <= 0.1
    assert "re-queued 1 job(s) whose worker stopped responding" in rescuer.stderr, rescuer.describe()

    gid = created["id"]
    assert _sql(home, "SELECT status, attempts, worker_id FROM jobs WHERE generation_id = %s", (gid,)) == [
        ("succeeded", 2, _worker_id(rescuer))]
    assert _sql(home, "SELECT id::text FROM media_objects WHERE generation_id = %s", (gid,)) == [(media["id"],)]
    assert _sql(home, "SELECT count(*) FROM api_usage WHERE generation_id = %s", (gid,)) == [(1,)]
    # The status history, as the events trigger recorded it: run, rescued, run, done once.
    events = [s for (s,) in _sql(home, "SELECT status FROM generation_events WHERE generation_id = %s ORDER BY id",
                                 (gid,))]
    history = [s for i, s in enumerate(events) if i == 0 or events[i - 1] != s]
    assert history == ["queued", "running", "queued", "running", "succeeded"], events
    # No pending deletion aims at the file that was kept.
    assert _sql(home, "SELECT count(*) FROM storage_deletions d JOIN media_objects m USING (bucket, key)") == [(0,)]
    assert api.proc.poll() is None and rescuer.proc.poll() is None


# --------------------------------------------------------------------------- 3. restart postgres


BATCH = 200  # also the default daily quota of one account


def _status_counts(home: Path) -> dict[str, int] | None:
    try:
        return dict(_sql(home, "SELECT status, count(*) FROM generations GROUP BY status"))  # type: ignore[arg-type]
    except psycopg.OperationalError:
        return None  # restarting


def _stuck(home: Path) -> str:
    """What the unfinished generations' jobs and the server's sessions are doing."""
    jobs = _sql(home, """SELECT g.status, j.status, j.attempts, j.worker_id, j.run_after - now(),
                                j.lease_expires_at - now(), j.last_error
                           FROM generations g LEFT JOIN jobs j ON j.generation_id = g.id
                          WHERE g.status NOT IN ('succeeded', 'failed', 'canceled')""")
    sessions = _sql(home, """SELECT usename, state, wait_event_type, wait_event, now() - xact_start,
                                    left(query, 200)
                               FROM pg_stat_activity WHERE backend_type = 'client backend'""")
    return "jobs:\n" + "\n".join(map(str, jobs)) + "\nsessions:\n" + "\n".join(map(str, sessions))


def test_postgres_restart_during_a_batch_loses_and_duplicates_nothing(lab: Lab):
    home = lab.home()
    api, port = _serve(lab, home)

    with _client(port) as client:
        _sign_up_and_log_in(client)
        espeak = _model_id(client, "espeak-en")
        ids = {_create(client, "audio", espeak, "n")["id"] for _ in range(BATCH)}
        assert len(ids) == BATCH
        # The workers come once the batch is queued, so the restart surely falls in its
        # middle (they get through ~40 jobs a second here).
        workers = [lab.start(["worker"], child_env(home, STUDIO_WORKER_LEASE_SECONDS=str(LEASE_SECONDS)))
                   for _ in range(2)]
        procs = [api, *workers]

        deadline = time.monotonic() + 60
        counts: dict[str, int] | None = {}
        while time.monotonic() < deadline:
            counts = _status_counts(home)
            if counts and counts.get("succeeded", 0) >= 20:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"20 jobs did not complete within 60s ({counts}):\n{_describe(procs)}")
        assert counts is not None and counts.get("succeeded", 0) < BATCH, "the batch ended before the restart"

        # Down for a couple of seconds, as a real restart is: long enough for jobs in
        # flight to lose their connections mid-transaction.
        cluster = EmbeddedCluster(home)
        cluster.stop(mode="fast")
        time.sleep(2)
        cluster.start()

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            counts = _status_counts(home)
            if counts and sum(n for s, n in counts.items() if s in TERMINAL) == BATCH:
                break
            crashed = [p for p in procs if p.proc.poll() is not None]
            if crashed:
                pytest.fail(f"a process died after the restart:\n{_describe(crashed)}")
            time.sleep(0.5)
        else:
            pytest.fail(f"not all {BATCH} generations ended within 240s ({counts}):\n{_stuck(home)}\n"
                        f"{_describe(procs)}")
        assert counts == {"succeeded": BATCH}, f"{counts}\n{_describe(procs)}"

        # Through the API (its pool had to replace every connection): each generation
        # succeeded with exactly one media file, which downloads.
        seen: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            response = client.get("/v1/generations", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, response.text
            for item in response.json()["items"]:
                seen[item["id"]] = item
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break
        assert set(seen) == ids
        for item in seen.values():
            assert item["status"] == "succeeded" and len(item["result"]["media"]) == 1, item
            [media] = item["result"]["media"]
            download = client.get(media["url"])
            assert download.status_code == 200 and download.content[:4] == b"RIFF", (item, download.status_code)

    assert all(p.proc.poll() is None for p in procs), _describe(procs)
    assert _sql(home, "SELECT count(*) FROM generations") == [(BATCH,)]
    assert _sql(home, """SELECT count(*) FROM generations g
                          WHERE (SELECT count(*) FROM media_objects m WHERE m.generation_id = g.id) <> 1""") == [(0,)]
    assert _sql(home, "SELECT count(*), count(DISTINCT generation_id) FROM api_usage") == [(BATCH, BATCH)]
    assert _sql(home, "SELECT status, count(*) FROM jobs GROUP BY status") == [("succeeded", BATCH)]
    assert _sql(home, "SELECT count(*) FROM jobs WHERE lease_expires_at IS NOT NULL") == [(0,)]
    # Exactly one success per generation in the event history.
    assert _sql(home, """SELECT count(*) FROM (SELECT generation_id FROM generation_events WHERE status = 'succeeded'
                          GROUP BY generation_id HAVING count(*) <> 1) AS x""") == [(0,)]
    # Not checked here: whether an upload announced by a run that the restart cut short
    # left an outbox row aimed at the file a later run kept. It depends on where the
    # restart falls; test_interrupted_completion_* below provokes it deterministically.


# --------------------------------------------------------------------------- 4. outbox vs retries


class OutboxDeletesKeptFile(AssertionError):
    """The storage outbox deleted (or will delete) the file of a succeeded generation."""


@pytest.mark.parametrize("interruption", ["connection", "worker"])
def test_interrupted_completion_does_not_delete_the_kept_file(lab: Lab, interruption: str):
    """Between uploading a result (announced in the outbox) and recording it, either
    the worker's database connection drops (`connection`: the worker records the same
    result again on a new connection: one attempt) or the worker dies (`worker`: the
    job is rescued and run again by another worker, which writes its own file: two
    attempts). Once the outbox has run, the succeeded generation's file must still be
    there, and no outbox row may aim at it.

    Made deterministic with a row lock: the superuser locks the job row (FOR KEY SHARE,
    so heartbeats still renew the lease) while the job runs, so the worker's completion
    transaction (repo.hold_lease: SELECT ... FOR UPDATE) waits, after the upload; then its backend is terminated, or the worker SIGKILLed."""
    home = lab.home()
    api, port = _serve(lab, home)
    worker = _start_worker(lab, home)
    procs = [api, worker]

    with _client(port) as client:
        _sign_up_and_log_in(client)
        params = {"duration_seconds": 10, "width": 1920, "height": 1080, "fps": 60}  # a few seconds of encoding
        created = _create(client, "video", _model_id(client, "ffmpeg-video"), "Interrupted", params)
        gid = created["id"]
        _wait_generation(client, gid, {"running", *TERMINAL}, 60, procs)

        conninfo = EmbeddedCluster(home).conninfo("postgres", _secrets(home)["STUDIO_SUPERUSER_PASSWORD"], "studio")
        with psycopg.connect(conninfo, connect_timeout=5) as locker:
            # FOR KEY SHARE blocks the completion's SELECT ... FOR UPDATE but not the heartbeats
            # (non-key UPDATEs): on a busy machine the encoding outlasts the lease, which
            # must stay held, or the job is rescued and runs twice, another case (`worker`).
            [(status,)] = locker.execute("SELECT status FROM jobs WHERE generation_id = %s FOR KEY SHARE",
                                         (gid,)).fetchall()
            assert status == "running", "the job ended before it could be interrupted"
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                announced = _sql(home, "SELECT count(*) FROM storage_deletions WHERE key LIKE %s", (f"%/{gid}/%",))
                waiting = _sql(home, """SELECT pid FROM pg_stat_activity WHERE usename = 'studio_worker'
                                          AND wait_event_type = 'Lock' AND query LIKE '%%FOR UPDATE%%'""")
                if announced == [(1,)] and waiting:
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"the worker never got to recording its result:\n{_describe(procs)}")
            if interruption == "connection":
                # Only the completion's backend (its SELECT ... FOR UPDATE).
                _sql(home, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'studio_worker'"
                           " AND wait_event_type = 'Lock' AND query LIKE '%%FOR UPDATE%%'")
            else:
                worker.proc.kill()
                worker.proc.wait(10)
                worker = _start_worker(lab, home)
                procs = [api, worker]
            locker.rollback()

        done = _wait_generation(client, gid, TERMINAL, 90, procs)
        [media] = done["result"]["media"]
        if interruption == "connection":
            assert done["status"] == "succeeded" and done["attempts"] == 1, done
            assert "lost the database connection" in worker.stderr, worker.describe()
        else:
            assert done["status"] == "succeeded" and done["attempts"] == 2, done
            assert "re-queued 1 job(s) whose worker stopped responding" in worker.stderr, worker.describe()
        doomed = _sql(home, "SELECT d.key, d.run_after - now() FROM storage_deletions d JOIN media_objects m"
                            " USING (bucket, key)")

        # Time travel: everything in the outbox is due now; the worker empties it.
        _sql(home, "UPDATE storage_deletions SET run_after = now()")
        deadline = time.monotonic() + 30
        while _sql(home, "SELECT count(*) FROM storage_deletions") != [(0,)]:
            if time.monotonic() > deadline:
                pytest.fail(f"the outbox was not emptied within 30s:\n{_describe(procs)}")
            time.sleep(0.2)

        try:
            download = client.get(media["url"])
            intact = download.status_code == 200 and len(download.content) == media["size"]
            outcome = f"{download.status_code}, {len(download.content)} of {media['size']} bytes"
        except httpx.HTTPError as exc:  # the body ends short of its Content-Length
            intact, outcome = False, repr(exc)
        if not intact or doomed:
            raise OutboxDeletesKeptFile(f"outbox rows aimed at the kept file: {doomed}; download afterwards: {outcome}")
