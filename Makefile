# Two commands do all set-up on a fresh Debian 12 machine, as root:
#   make run    install everything, then run the service
#   make test   install everything, then run the whole test suite (what CI runs)
PYTHON ?= python3
export PIP_BREAK_SYSTEM_PACKAGES := 1
# Language toolchains the sandbox offers, and what the runtime and its tests need from Debian.
DEB_PACKAGES := gcc g++ openjdk-17-jdk-headless nodejs bash coreutils util-linux libseccomp2 iproute2 procps

.PHONY: setup system-packages python-packages run test lint typecheck unit

setup: system-packages python-packages

system-packages:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

python-packages:
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements-dev.txt

run: setup
	$(PYTHON) -m executor languages --self-test

lint:
	$(PYTHON) -m ruff check executor tests
	$(PYTHON) -m mypy

test: setup lint
	$(PYTHON) -m pytest -p no:cacheprovider
