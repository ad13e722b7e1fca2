# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test soak lint format install migrate demo bench prometheus nginx

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: set up and start web, worker and beat on 127.0.0.1:8000 (Ctrl-C stops all).
run: install
	./scripts/run.sh

## make prometheus: Debian's prometheus, for the metrics test, when it is missing.
prometheus:
	./scripts/install_prometheus.sh

## make nginx: the production proxy the proxy tests and make soak run (Debian package).
nginx:
	./scripts/install_nginx.sh

## make test: the whole suite against PostgreSQL and Redis.
test: install prometheus nginx
	eval "$$(./scripts/services.sh)" && $(PY) -m pytest $(PYTEST_ARGS)

## make soak: the slow fault tests and 500 fuzzed requests per endpoint (under 10 min),
## then a summary table of what was tried and what was lost (scripts/soak_report.py).
## The slow-client test runs nginx (Debian's package, installed when missing).
SOAK_RESULTS := var/soak/results.jsonl
soak: install nginx
	rm -f $(SOAK_RESULTS)
	eval "$$(./scripts/services.sh)" && \
	export DATATALKS_SOAK_RESULTS=$(SOAK_RESULTS) DATATALKS_FUZZ_EXAMPLES=500 && \
	{ $(PY) -m pytest -m slow -rxX $(PYTEST_ARGS); faults=$$?; \
	  $(PY) -m pytest tests/soak/test_fuzz.py $(PYTEST_ARGS); fuzz=$$?; \
	  $(PY) scripts/soak_report.py $(SOAK_RESULTS); \
	  test $$faults -eq 0 && test $$fuzz -eq 0; }

## make bench: the service under load against the framework's own limit (bench/).
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	eval "$$(./scripts/services.sh)" && $(PY) -m bench.run $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
