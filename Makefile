# Two commands do all set-up on a fresh Debian 12 machine, as root:
#   make run    install everything, prepare the database and demo data, start the service in the background
#   make test   install everything, start the test Redis and PostgreSQL, run ruff, mypy and the whole suite
# Both can be run again at any time. `make stop` stops what `make run` started.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

PYTHON ?= python3
export PIP_BREAK_SYSTEM_PACKAGES := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore

VENV := .venv
VPY := $(VENV)/bin/python
VAR := var
RUN_DIR := $(VAR)/run
LOG_DIR := $(VAR)/log
TEST_DIR := $(VAR)/test
NCPU := $(shell nproc 2>/dev/null || echo 2)
# The grading queue (rejudges, batches) gets half the cores, at least one; interactive runs get them all.
GRADING_CONCURRENCY := $(shell n=$$(( $(NCPU) / 2 )); [ $$n -ge 1 ] && echo $$n || echo 1)
, := ,

# The service of `make run`: everything on loopback.
WEB_ADDR ?= 127.0.0.1:8000
REDIS_PORT ?= 6379
SERVICE_ENV := REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0

# The tests' own Redis (never the service's: the tests flush it) and PostgreSQL role/database.
TEST_REDIS_PORT ?= 6390
TEST_REDIS_URL := redis://127.0.0.1:$(TEST_REDIS_PORT)/0
PG_USER := sandbox
PG_DB := sandbox
PG_PASSWORD_FILE := /var/lib/postgresql/sandbox-test-password
# Test directories run a second time on PostgreSQL (the default run uses SQLite).
PG_TEST_DIRS = $(wildcard tests/unit/sandbox_service tests/integration/sandbox_service)

# Language toolchains the sandbox offers, what the runtime needs, and the service's Redis.
DEB_PACKAGES := gcc g++ openjdk-17-jdk-headless nodejs bash coreutils util-linux libseccomp2 iproute2 procps \
	python3 python3-venv python3-pip redis-server debootstrap \
	ruby golang-go rustc php-cli perl lua5.4 node-typescript mono-mcs mono-runtime fp-compiler-3.2.2 \
	fp-units-rtl-3.2.2 gfortran
# Node.js's type declarations for TypeScript's compiler (Debian's nodejs has them; NodeSource's Node.js does not).
TS_NODE_TYPES := @types/node@20.17.6
# busybox-static: the tests' tiny images; docker-registry and skopeo: a registry on loopback to pull from and push to.
DEB_TEST_PACKAGES := postgresql chromium busybox-static docker-registry skopeo
# The baselines the benchmarks run beside the sandbox.
DEB_BENCH_PACKAGES := bubblewrap runc

.PHONY: help setup setup-test system-packages system-test-packages python-packages python-test-packages \
	executor-python language-extras frontend-assets bench run stop status prepare start wait-web test lint typecheck test-services test-redis \
	test-postgres

help:
	@echo "make run     install everything and start the service on http://$(WEB_ADDR)/ (in the background)"
	@echo "make stop    stop the service"
	@echo "make status  show what runs"
	@echo "make test    install everything and run ruff, mypy and the whole test suite (what CI runs)"
	@echo "make bench   run the benchmarks beside their baselines; writes benchmarks/RESULTS.md"

# --- installation -------------------------------------------------------------------------------------------
# $(call deb_install,PACKAGES): apt-get only what is missing, so a re-run touches nothing.
define deb_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

# $(call venv_install,REQUIREMENTS FILE,STAMP NAME): (re)make .venv if it does not work, then pip install only if
# the requirement files changed since the last install into this venv.
define venv_install
	@if ! $(VPY) -c '' 2>/dev/null; then rm -rf $(VENV); echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); fi
	@want=$$(cat requirements*.txt | sha256sum | cut -c1-64); stamp=$(VENV)/.installed-$(2); \
	if [ "$$(cat $$stamp 2>/dev/null)" != "$$want" ]; then \
		echo "installing $(1) into $(VENV)"; \
		$(VPY) -m pip install -q -r $(1); \
		echo "$$want" >$$stamp; \
	fi
endef

setup: system-packages language-extras python-packages executor-python frontend-assets
setup-test: system-packages language-extras system-test-packages python-test-packages executor-python frontend-assets

system-packages:
	$(call deb_install,$(DEB_PACKAGES))

system-test-packages:
	$(call deb_install,$(DEB_TEST_PACKAGES))

python-packages:
	$(call venv_install,requirements.txt,run)

language-extras:
	@if [ ! -d /usr/share/nodejs/@types/node ] && [ ! -f /usr/lib/node_modules/@types/node/package.json ]; then \
		command -v npm >/dev/null || $(MAKE) --no-print-directory system-packages DEB_PACKAGES=npm; \
		echo "installing $(TS_NODE_TYPES) (TypeScript's Node.js declarations)"; \
		npm install -g --no-audit --no-fund --loglevel=error $(TS_NODE_TYPES); \
	fi

python-test-packages:
	$(call venv_install,requirements-dev.txt,dev)

# `python -m executor ...` must work with the machine's own python3 (and python), not only the venv's.
executor-python:
	@for py in $(PYTHON) python; do \
		command -v $$py >/dev/null || continue; \
		$$py -m pip install -q -r requirements-executor.txt; \
	done

# The editor (CodeMirror 6, pinned in package-lock.json) bundled by esbuild into the web app's static files:
# `npm ci` only when the lock file changed since the last install, the bundle every time (it takes a second).
frontend-assets:
	@command -v npm >/dev/null || $(MAKE) --no-print-directory system-packages DEB_PACKAGES=npm
	@want=$$(cat package.json package-lock.json | sha256sum | cut -c1-64); stamp=node_modules/.installed; \
	if [ "$$(cat $$stamp 2>/dev/null)" != "$$want" ]; then \
		echo "installing the front-end packages (npm ci)"; npm ci --no-audit --no-fund --loglevel=error; \
		echo "$$want" >$$stamp; \
	fi
	@npm run --silent build -- --log-level=warning

# --- the service ------------------------------------------------------------------------------------------
# $(call start,NAME,COMMAND): a shell fragment that runs COMMAND in the background in its own session (so its
# process group is its pid), pid in var/run/NAME.pid, output appended to var/log/NAME.log.
start = mkdir -p $(RUN_DIR) $(LOG_DIR); echo "=== $$(date -Is) $(2)" >>$(LOG_DIR)/$(1).log; \
	$(SERVICE_ENV) setsid $(2) >>$(LOG_DIR)/$(1).log 2>&1 </dev/null & echo $$! >$(RUN_DIR)/$(1).pid; \
	echo "started $(1): pid $$(cat $(RUN_DIR)/$(1).pid), log $(LOG_DIR)/$(1).log"

run: setup stop prepare start wait-web
	@echo
	@echo "The service runs on http://$(WEB_ADDR)/  (admin: http://$(WEB_ADDR)/admin/)"
	@echo "Demo accounts (kept in $(VAR)/demo-credentials.txt):"
	@grep -v '^#' $(VAR)/demo-credentials.txt | while read -r role user password; do \
		printf '  %-8s username %-10s password %s\n' "$$role" "$$user" "$$password"; done
	@echo "Operations dashboard: http://$(WEB_ADDR)/admin/dashboard/  (as admin); probes /healthz, /readyz; /metrics"
	@echo "Logs and pid files: $(LOG_DIR)/, $(RUN_DIR)/. Stop with: make stop"

# Database, languages (each language's self-test runs in the sandbox) and demo data.
prepare:
	@mkdir -p $(VAR)
	$(SERVICE_ENV) $(VPY) manage.py migrate --no-input -v 0
	$(SERVICE_ENV) $(VPY) manage.py collectstatic --no-input -v 0
	$(SERVICE_ENV) $(VPY) manage.py sync_languages
	$(SERVICE_ENV) $(VPY) manage.py seed_demo

# Redis first (a Redis that make did not start but that answers on the port, e.g. Debian's service, is used as
# it is), then the workers (root: they make the sandboxes), one per queue so that bulk grading never starves
# a student's interactive run, beat and the web server.
start:
	@if [ ! -f $(RUN_DIR)/redis.pid ] && redis-cli -p $(REDIS_PORT) ping 2>/dev/null | grep -q PONG; then \
		echo "using the Redis that already answers on port $(REDIS_PORT)"; \
	else \
		mkdir -p $(VAR)/redis; \
		$(call start,redis,redis-server --bind 127.0.0.1 --port $(REDIS_PORT) --dir $(VAR)/redis --daemonize no); \
		for i in $$(seq 100); do redis-cli -p $(REDIS_PORT) ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done; \
	fi
	@$(call start,worker,$(VENV)/bin/celery -A sandbox_service worker -Q interactive --concurrency $(NCPU) \
		--prefetch-multiplier 1 -n interactive@%h -l info)
	@$(call start,grader,$(VENV)/bin/celery -A sandbox_service worker -Q grading --concurrency $(GRADING_CONCURRENCY) \
		--prefetch-multiplier 1 -n grading@%h -l info)
	@$(call start,beat,$(VENV)/bin/celery -A sandbox_service beat -s $(VAR)/celerybeat-schedule -l info)
	@$(call start,web,$(VENV)/bin/gunicorn sandbox_service.wsgi --bind $(WEB_ADDR) --workers 2 \
		--worker-class gthread --threads 16 --timeout 120 \
		--access-logfile $(LOG_DIR)/web-access.log --control-socket $(abspath $(RUN_DIR))/gunicorn.ctl)

# Until the admin login page answers, for 60 s at most; on failure, the end of each log.
wait-web:
	@until $(VPY) -c 'import sys, urllib.request as r; sys.exit(r.urlopen("http://$(WEB_ADDR)/admin/login/", timeout=2).status != 200)' 2>/dev/null; do \
		if [ $$SECONDS -ge 60 ]; then \
			echo "the web server did not answer on http://$(WEB_ADDR)/admin/login/ within 60 s"; \
			for f in $(LOG_DIR)/*.log; do echo "--- $$f"; tail -n 20 $$f; done; exit 1; \
		fi; \
		sleep 0.2; \
	done; echo "http://$(WEB_ADDR)/admin/login/ answers"

# SIGTERM to each process of var/run/NAME.pid that still runs its program (a pid file whose process is gone, or
# whose pid was reused, is just removed): gunicorn finishes its requests, beat stops, the worker finishes its
# running tasks (warm shutdown). Redis goes last, so that the worker can still acknowledge. Whatever has not
# stopped after its grace time is SIGKILLed, and so is anything left in each process group.
stop:
	@stop() { \
		for spec in "$$@"; do \
			IFS=: read -r part program grace <<<"$$spec"; pid=$$(cat $(RUN_DIR)/$$part.pid 2>/dev/null || true); \
			if [ -n "$$pid" ] && tr '\0' ' ' </proc/$$pid/cmdline 2>/dev/null | grep -q "$$program"; then \
				kill -TERM $$pid 2>/dev/null || true; else rm -f $(RUN_DIR)/$$part.pid; fi; \
		done; \
		for spec in "$$@"; do \
			IFS=: read -r part program grace <<<"$$spec"; [ -f $(RUN_DIR)/$$part.pid ] || continue; \
			pid=$$(cat $(RUN_DIR)/$$part.pid); \
			for i in $$(seq $$(( grace * 10 ))); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
			if kill -0 $$pid 2>/dev/null; then echo "$$part did not stop within $$grace s: killing it"; fi; \
			kill -KILL -- -$$pid 2>/dev/null || true; rm -f $(RUN_DIR)/$$part.pid; echo "stopped $$part (pid $$pid)"; \
		done; \
	}; \
	stop web:gunicorn:30 beat:celery:10 worker:celery:60 grader:celery:60; stop redis:redis-server:30

status:
	@for part in redis worker grader beat web; do \
		pid=$$(cat $(RUN_DIR)/$$part.pid 2>/dev/null || true); \
		if [ -n "$$pid" ] && kill -0 $$pid 2>/dev/null; then echo "$$part: running (pid $$pid)"; else echo "$$part: stopped"; fi; \
	done

# --- tests --------------------------------------------------------------------------------------------------
# Every check runs even when an earlier one failed, and the summary says which failed. pytest's exit code 5
# (no test collected) counts as a failure like any other non-zero code.
test: setup-test test-services
	@export REDIS_URL=$(TEST_REDIS_URL); failed=""; \
	step() { name=$$1; shift; echo; echo "=== $$name: $$*" | sed -E 's#(://[^:/]*:)[^@]*@#\1***@#'; start=$$(date +%s); \
		if "$$@"; then echo "=== $$name: passed ($$(( $$(date +%s) - start )) s)"; \
		else rc=$$?; echo "=== $$name: FAILED (exit $$rc, $$(( $$(date +%s) - start )) s)"; failed="$$failed $$name"; fi; }; \
	step ruff $(VENV)/bin/ruff check executor sandbox_service tests benchmarks; \
	step mypy $(VENV)/bin/mypy; \
	step pytest-sqlite $(VPY) -m pytest -p no:cacheprovider; \
	step pytest-postgresql env DATABASE_URL="$$(cat $(TEST_DIR)/database-url)" \
		$(VPY) -m pytest -p no:cacheprovider $(PG_TEST_DIRS); \
	echo; if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; echo "make test: all checks passed"

# Benchmarks, each beside its baseline in the same run (bwrap, runc, bare processes); about 5 minutes.
bench: setup
	$(call deb_install,$(DEB_BENCH_PACKAGES))
	$(VPY) -m benchmarks

lint:
	$(VENV)/bin/ruff check executor sandbox_service tests benchmarks

typecheck:
	$(VENV)/bin/mypy

test-services: test-redis test-postgres

# The tests' Redis: no persistence, its own port; the integration tests stop and restart it.
test-redis:
	@mkdir -p $(TEST_DIR)
	@if redis-cli -p $(TEST_REDIS_PORT) ping 2>/dev/null | grep -q PONG; then echo "test Redis answers on $(TEST_REDIS_PORT)"; else \
		redis-server --bind 127.0.0.1 --port $(TEST_REDIS_PORT) --save '' --appendonly no --daemonize yes \
			--dir $(abspath $(TEST_DIR)) --pidfile $(abspath $(TEST_DIR))/redis.pid --logfile $(abspath $(TEST_DIR))/redis.log; \
		for i in $$(seq 100); do redis-cli -p $(TEST_REDIS_PORT) ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done; \
		echo "started the test Redis on $(TEST_REDIS_PORT)"; \
	fi

# PostgreSQL from Debian: the first cluster, started if down (made if there is none); a role that may create the
# test database (pytest-django makes test_$(PG_DB)). The role belongs to the machine, not to a checkout, so its
# password is made once per machine, kept beside the cluster (root only) and set again every time.
test-postgres:
	@mkdir -p $(TEST_DIR)
	@cluster=$$(pg_lsclusters --no-header 2>/dev/null | head -n 1); \
	if [ -z "$$cluster" ]; then \
		version=$$(ls /usr/lib/postgresql | sort -V | tail -n 1); \
		pg_createcluster $$version main >/dev/null; cluster=$$(pg_lsclusters --no-header | head -n 1); \
	fi; \
	read -r version name port state rest <<<"$$cluster"; \
	if [ "$$state" != online ]; then pg_ctlcluster $$version $$name start; fi; \
	for i in $$(seq 100); do pg_isready -q -h 127.0.0.1 -p $$port && break; sleep 0.1; done; \
	pg_isready -h 127.0.0.1 -p $$port; \
	if [ ! -s $(PG_PASSWORD_FILE) ]; then \
		(umask 077; $(PYTHON) -c 'import secrets; print(secrets.token_hex(16))' >$(PG_PASSWORD_FILE)); fi; \
	password=$$(cat $(PG_PASSWORD_FILE)); \
	psql() { (cd / && runuser -u postgres -- psql -p $$port -v ON_ERROR_STOP=1 -qAtX "$$@"); }; \
	[ "$$(psql -c "SELECT 1 FROM pg_roles WHERE rolname = '$(PG_USER)'")" = 1 ] || psql -c "CREATE ROLE $(PG_USER)"; \
	psql -c "ALTER ROLE $(PG_USER) WITH LOGIN CREATEDB PASSWORD '$$password'"; \
	[ "$$(psql -c "SELECT 1 FROM pg_database WHERE datname = '$(PG_DB)'")" = 1 ] || psql -c "CREATE DATABASE $(PG_DB) OWNER $(PG_USER)"; \
	echo "postgres://$(PG_USER):$$password@127.0.0.1:$$port/$(PG_DB)" >$(TEST_DIR)/database-url; \
	echo "PostgreSQL $$version/$$name on 127.0.0.1:$$port, database $(PG_DB), role $(PG_USER)"
