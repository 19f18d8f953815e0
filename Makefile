# The two commands: `make up` starts Studio on its embedded PostgreSQL,
# `make test` type-checks src/ (mypy) and runs the whole test suite. Both bootstrap .venv first.
VENV  := .venv
STAMP := $(VENV)/.installed

.PHONY: up test bootstrap clean

up: $(STAMP)
	$(VENV)/bin/studio up

test: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bootstrap: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh

clean:
	rm -rf $(VENV) .pytest_cache
