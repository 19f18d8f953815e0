# The two commands: `make up` starts Studio on its embedded PostgreSQL, `make test`
# checks the web app (its API client is current, svelte-check, Vitest), type-checks src/
# (mypy) and runs the whole test suite, with the local extra (torch CPU build, diffusers)
# installed for the local provider's tests. Both bootstrap .venv first, then build the
# web app when it is missing or its sources changed (scripts/build_web.sh).
VENV  := .venv
STAMP := $(VENV)/.installed
# The local extra (torch, diffusers): the tests run the local provider and trainer; `make up` does not need it.
LOCAL_STAMP := $(VENV)/.installed-local
# The web checks run the API's Python to read its OpenAPI document (web/scripts/api.mjs).
WEB_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: up test bootstrap web web-check fuzz clean

up: web
	$(VENV)/bin/studio up

test: web-check $(LOCAL_STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bootstrap: $(STAMP)

web: $(STAMP)
	@scripts/build_web.sh

web-check: web
	cd web && $(WEB_ENV) npm run --silent api:check
	cd web && npm run --silent check
	cd web && npm test --silent

$(STAMP): pyproject.toml scripts/bootstrap.sh scripts/common.sh
	@scripts/bootstrap.sh

$(LOCAL_STAMP): $(STAMP) scripts/install_local.sh scripts/local-constraints.txt
	@scripts/install_local.sh

# The fuzz tier's long run (over 10,000 cases): figures in bench/results/fuzz.md.
fuzz: web $(LOCAL_STAMP)
	STUDIO_FUZZ_EXAMPLES=150 STUDIO_FUZZ_SEED=random STUDIO_FUZZ_REPORT=bench/results/fuzz.md $(VENV)/bin/python -m pytest -q -s \
		tests/e2e/test_fuzz_e2e.py

clean:
	rm -rf $(VENV) .pytest_cache src/studio/web/app
