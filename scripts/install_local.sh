#!/usr/bin/env bash
# Installs the `local` extra (torch, diffusers, transformers, PEFT) into .venv for the
# test suite: `make test` runs the local provider and trainer on tiny models. With the
# CPU build of torch (scripts/local-constraints.txt). `make up` never runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

SAY_PREFIX=local
# shellcheck source=scripts/common.sh
. scripts/common.sh

say "installing the local extra (torch CPU build, diffusers, transformers, PEFT) into .venv"
started=$(date +%s)
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c scripts/local-constraints.txt -e '.[test,local]' \
    || die "pip could not install the local extra (see above); check network access to the package index"
touch .venv/.installed-local
say "ready in $(( $(date +%s) - started )) s"
