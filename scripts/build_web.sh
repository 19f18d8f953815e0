#!/usr/bin/env bash
# Builds the browser app (web/) into src/studio/web/app/, which the API serves, when the
# build is missing or one of its inputs changed; otherwise it says so and does nothing.
#
# - Node.js and npm: as root it installs missing Debian packages with apt-get; otherwise,
#   or when the Node.js found is too old, it says exactly what to install.
# - `npm ci` runs when web/node_modules is missing or package-lock.json changed.
# - The inputs' hash (every file's path and content, in a fixed order, and the Node.js
#   version) is kept in src/studio/web/app/.inputs.sha256, written after a build that
#   passed (the build includes the size budget), and removed with the build output.
set -euo pipefail
cd "$(dirname "$0")/.."

SAY_PREFIX=web
# shellcheck source=scripts/common.sh
. scripts/common.sh

WEB=web
OUT=src/studio/web/app
BUILD_STAMP="$OUT/.inputs.sha256"
DEPS_STAMP="$WEB/node_modules/.studio-lockfile.sha256"
# What a build reads: directories (every file under them) and single files, under web/.
INPUT_DIRS=(src static scripts)
INPUT_FILES=(package.json package-lock.json svelte.config.js vite.config.ts tsconfig.json)

# Vite 7 runs on Node.js ^20.19 or >= 22.12.
node_ok() {
    node -e '
        const [major, minor] = process.versions.node.split(".").map(Number);
        process.exit((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23 ? 0 : 1);
    ' 2>/dev/null
}
NODE_HINT="install Node.js 20.19 or newer (20.x from 20.19, or 22.12 and newer) with npm, from nodejs.org or your distribution (Debian 13: apt-get install nodejs npm; Debian 12's own nodejs is 18, too old: use NodeSource's packages)"

# Two runs at once (`make up` beside `make test`) would write the same directories: the
# second waits for the first (a lock on this script), then finds the app up to date.
if command -v flock >/dev/null 2>&1; then
    exec 9<"$0"
    flock 9
fi

# 1. Node.js and npm.
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || die "Node.js and npm are needed to build the web app: $NODE_HINT"
fi
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || die "Node.js and npm are needed to build the web app: $NODE_HINT"
node_ok || die "Node.js $(node --version) is too old for the web app: $NODE_HINT"

# 2. The web app's packages.
lock_hash=$(sha256 <"$WEB/package-lock.json")
if [ ! -d "$WEB/node_modules" ] || [ "$(cat "$DEPS_STAMP" 2>/dev/null)" != "$lock_hash" ]; then
    say "installing the web app's packages (npm ci)"
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
        || die "npm ci failed (see above); check access to the npm registry"
    mkdir -p "$WEB/node_modules"
    printf '%s\n' "$lock_hash" >"$DEPS_STAMP"
fi

# 3. The build.
inputs_hash() {
    (
        cd "$WEB"
        {
            find "${INPUT_DIRS[@]}" -type f -print0 2>/dev/null
            for file in "${INPUT_FILES[@]}"; do [ -f "$file" ] && printf '%s\0' "$file"; done
        } | LC_ALL=C sort -z | xargs -0 "${SHA256_CMD[@]}"
        printf 'node %s\n' "$(node --version)"
    ) | sha256
}
hash=$(inputs_hash)
if [ -f "$OUT/index.html" ] && [ "$(cat "$BUILD_STAMP" 2>/dev/null)" = "$hash" ]; then
    say "web app is up to date"
    exit 0
fi
say "building the web app (web/ into $OUT/)"
rm -f "$BUILD_STAMP"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS
if ! (cd "$WEB" && npm run --silent build) >"$log" 2>&1; then
    cat "$log" >&2
    die "the web app did not build (see above)"
fi
grep '^budget: ' "$log" | sed 's/^budget: /web: budget: /' >&2 || true
printf '%s\n' "$hash" >"$BUILD_STAMP"
say "built in $((SECONDS - started)) s"
