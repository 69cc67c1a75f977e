# tandem — the two commands an operator or developer needs first:
#   make demo   installs what is needed, brings up the two-node lab, prints addresses and login
#   make test   installs what is needed, runs ruff, mypy and the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every Debian package the project uses, at run time or in tests.
DEBIAN_PACKAGES := lxc fuse3 libfuse3-dev pkg-config socat iproute2 iputils-arping \
	iputils-ping e2fsprogs util-linux apache2-utils chromium nftables busybox-static \
	procps psmisc debootstrap ca-certificates openssh-client openssh-server
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
# uv is found through the interpreter, so a PATH without pip's script directory still works.
UV := python3 -m uv
PYTEST_ARGS ?=

.PHONY: help setup system-packages python-env lint typecheck test unit demo demo-down clean \
	screenshots web-messages notify-messages

help:
	@echo "make demo   - install, bring up the two-node lab with a running cluster, print addresses"
	@echo "make test   - install, then ruff + mypy + the whole test suite"
	@echo "make setup  - install Debian packages and the Python environment (idempotent)"
	@echo "make demo-down - take the demo lab down, leaving nothing behind"

setup: system-packages python-env

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "Debian packages: all present"; fi

python-env:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install -q --root-user-action=ignore uv \
		|| python3 -m pip install -q --root-user-action=ignore --break-system-packages uv
	@$(UV) sync --frozen --quiet
	@echo "Python environment: .venv ready"

lint: python-env
	$(UV) run --frozen ruff check src tests bench
	$(UV) run --frozen ruff format --check src tests bench

typecheck: python-env
	$(UV) run --frozen mypy

test: setup lint typecheck
	$(UV) run --frozen pytest $(PYTEST_ARGS)

unit: python-env
	$(UV) run --frozen pytest -m "not lab" $(PYTEST_ARGS)

demo: setup
	$(UV) run --frozen tandem lab up --demo

demo-down: python-env
	$(UV) run --frozen tandem lab down

# The web's pages in German and English, from a real browser against a lab of its own
# (tests/e2e; the lab is taken down afterwards). Look at them after a change of the pages.
screenshots: setup
	rm -f docs/screenshots/*.png
	TANDEM_SCREENSHOTS=$(CURDIR)/docs/screenshots TANDEM_TEST_LAB=$${TANDEM_TEST_LAB:-tandemw} \
		$(UV) run --frozen pytest tests/e2e -p no:cacheprovider $(PYTEST_ARGS)

# Refresh the German catalog's message list from the pages and code (then translate the
# new entries in src/tandem/web/locale/de/LC_MESSAGES/messages.po).
web-messages: python-env
	cd src/tandem/web && $(UV) run --frozen pybabel extract -F babel.cfg -k N_ -k gettext \
		--no-location --omit-header -o /tmp/tandem-web.pot . && \
		$(UV) run --frozen pybabel update -i /tmp/tandem-web.pot -d locale -D messages \
		--no-location --ignore-obsolete

# The same for the mails' texts (NT-1): src/tandem/notify/locale/de/LC_MESSAGES/notify.po.
notify-messages: python-env
	cd src/tandem/notify && $(UV) run --frozen pybabel extract -k N_ -k gettext \
		--no-location --omit-header -o /tmp/tandem-notify.pot . && \
		$(UV) run --frozen pybabel update -i /tmp/tandem-notify.pot -d locale -D notify \
		--ignore-obsolete

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
