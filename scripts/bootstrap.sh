#!/usr/bin/env bash
# Prepares a fresh machine for Studio: Python >= 3.11 with venv, the PostgreSQL server
# binaries, the tools the tests use, and .venv with Studio and its test tools (the web
# app is built by scripts/build_web.sh). As root it installs missing
# Debian packages with apt-get; otherwise it says exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

SAY_PREFIX=bootstrap
# shellcheck source=scripts/common.sh
. scripts/common.sh

# 1. Python 3.11+ with the venv module.
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install python3 python3-venv || die "Python 3.11 or newer is required: install it (Debian/Ubuntu: apt-get install python3 python3-venv)"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is required, found $("$PYTHON" --version 2>&1); set PYTHON=/path/to/python3.11"

# 2. PostgreSQL server binaries (initdb, pg_ctl, postgres), for the embedded database.
find_pg() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    local dir
    for dir in /usr/lib/postgresql/*/bin /usr/local/opt/postgresql*/bin /opt/homebrew/opt/postgresql*/bin /usr/local/pgsql/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && return 0
    done
    return 1
}
if ! find_pg; then
    apt_install postgresql || die "PostgreSQL server binaries not found: install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), or set STUDIO_DATABASE_URL to use an existing cluster"
    find_pg || die "PostgreSQL was installed but initdb/pg_ctl were not found"
fi

# 3. pgBackRest: continuous WAL archiving and backups of the embedded cluster (F1).
#    `studio up` refuses to run without it unless STUDIO_BACKUP_ENABLED=false.
if ! command -v pgbackrest >/dev/null 2>&1; then
    apt_install pgbackrest \
        || say "pgBackRest is missing (Debian/Ubuntu: apt-get install pgbackrest); Studio's backups need it (or set STUDIO_BACKUP_ENABLED=false)"
fi

# 4. PgBouncer: `studio up --pgbouncer` runs it in front of the embedded cluster (F2),
#    and the test suite checks Studio through a real one.
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    apt_install pgbouncer \
        || say "PgBouncer is missing (Debian/Ubuntu: apt-get install pgbouncer); \`studio up --pgbouncer\` and its tests need it"
    # The Debian package starts its own system-wide instance; Studio runs its own.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
        systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    fi
fi

# 5. promtool (Debian's prometheus package): the test suite validates and unit-tests the
#    alert rules in deploy/prometheus with it. Studio itself does not need it.
if ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus \
        || say "promtool is missing (Debian/Ubuntu: apt-get install prometheus); the alert rule tests need it"
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi

# 6. The local providers' tools: espeak-ng (speech) and ffmpeg/ffprobe (video, audio
#    conversion). Studio runs without them (those models show as unavailable), but the
#    test suite exercises them for real.
missing_tools=()
command -v espeak-ng >/dev/null 2>&1 || missing_tools+=(espeak-ng)
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing_tools+=(ffmpeg)
if [ ${#missing_tools[@]} -gt 0 ]; then
    apt_install "${missing_tools[@]}" \
        || say "optional tools missing: ${missing_tools[*]} (Debian/Ubuntu: apt-get install ${missing_tools[*]}); the espeak/ffmpeg models will be unavailable and their tests will fail"
fi

# 7. Chromium (Debian's package): the browser tests drive it with Playwright for Python.
#    Playwright's own browser download is never used. Studio itself does not need it.
if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium fonts-dejavu-core \
        || say "Chromium is missing (Debian: apt-get install chromium); the browser tests need it"
fi

# 8. The virtualenv.
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv || die "the Python venv module is missing: install it (Debian/Ubuntu: apt-get install python3-venv)"
        "$PYTHON" -m venv .venv
    fi
fi
say "installing Studio and its test tools into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' \
    || die "pip could not install the dependencies (see above); check network access to the package index"
touch .venv/.installed
say "ready"
