# Shared by scripts/bootstrap.sh and scripts/build_web.sh (sourced, not run).
# Each script sets SAY_PREFIX before sourcing this file.

say() { printf '%s: %s\n' "${SAY_PREFIX:-studio}" "$*" >&2; }
die() { say "$*"; exit 1; }

# Installs Debian packages when running as root on a machine with apt-get; returns 1
# (installing nothing) otherwise, so the caller can say what to install.
APT_UPDATED=""
apt_install() {
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# sha256 of stdin (or of the files named), one "HASH  NAME" line each; sha256 gives the
# 64 hex characters of stdin's.
if command -v sha256sum >/dev/null 2>&1; then SHA256_CMD=(sha256sum); else SHA256_CMD=(shasum -a 256); fi
sha256() { "${SHA256_CMD[@]}" | cut -d' ' -f1; }
