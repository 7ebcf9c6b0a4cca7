# heidi: make demo | make test | make python-test | make api-test | make docs-check | make format-check | make build | make install (DESTDIR=, PREFIX=)
PREFIX ?= /usr/local
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SYSTEMD_UNIT_DIR ?= /etc/systemd/system
SYSUSERS_DIR ?= /usr/lib/sysusers.d
TMPFILES_DIR ?= /usr/lib/tmpfiles.d

.PHONY: deps test-deps build demo test swift-test release install install-docs deb deb-deps lintian systemd-test \
	systemd-test-deps clean python-test python-deps web-test web-test-deps api-test api-deps docs-check format format-check slurm-test slurm-test-deps \
	fleet-test fleet-test-deps

## Install the system packages the build needs (libsystemd-dev, libgcrypt20-dev, libyaml-dev; pkg-config is usually
## present).
deps:
	@pkg-config --exists libsystemd libgcrypt yaml-0.1 2>/dev/null || { \
		echo "installing libsystemd-dev libgcrypt20-dev libyaml-dev pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libsystemd-dev libgcrypt20-dev libyaml-dev pkg-config; }

## The toolchains heidi-collect validates generated code with; the tests run them for real.
test-deps: deps
	@command -v g++ >/dev/null && command -v node >/dev/null && command -v gofmt >/dev/null || { \
		echo "installing g++ nodejs golang-go (code validation toolchains)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq g++ nodejs golang-go; }

build: deps
	swift build

## Run the bundled demo pipeline: daemon up, 2 full rounds of real child processes, status, events, journal verified.
demo: deps
	contrib/demo/run-demo.sh

## Run every test suite: the Swift suites (unit, real-process supervision, end to end with the built binaries), then
## the Python package's (python-test) and heidi-web in a real browser (web-test).
test: swift-test python-test web-test

## The Swift suites. The full output is also kept in .build/test.log; on failure the failed expectations are repeated
## at the end, where a CI log's tail shows them.
swift-test: test-deps
	swift build
	@# SlurmExecutorTests need a Slurm cluster: make slurm-test starts one and runs them.
	@{ swift test --skip SlurmExecutorTests 2>&1; echo $$? > .build/test.status; } | tee .build/test.log; \
	status=$$(cat .build/test.status); \
	if [ "$$status" != 0 ]; then \
		echo "== swift test failed (exit $$status); the failures, from .build/test.log:"; \
		grep -a -A2 -E '✘ Test .*(recorded an issue|failed after)|error: |Fatal error' .build/test.log | cut -c1-400 | tail -60; \
		exit "$$status"; \
	fi

## The Slurm executor (docs/slurm.md) against a real Slurm cluster on this machine (root): contrib/slurm/test.sh starts
## slurmctld, two slurmd nodes with fake GPUs and munged (contrib/slurm/cluster.sh), runs SlurmExecutorTests without and
## with accounting (slurmdbd on a private MariaDB), and stops the cluster. Never skips: a missing package is an error.
slurm-test-deps:
	@command -v sbatch >/dev/null && command -v munged >/dev/null && command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null || { \
		echo "installing slurm-wlm munge slurmdbd mariadb-server (Slurm test cluster)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq slurm-wlm munge slurmdbd mariadb-server; }

slurm-test: deps slurm-test-deps
	$(SUDO) contrib/slurm/test.sh

## heidi-web in a real browser: headless Chromium + Selenium (Debian's packages, run with /usr/bin/python3) against a
## real heidid and heidi-web: login, live state within 1 s, log tail, loss curve, an action, a refused cross-origin
## POST, stage markup shown as text; prints the screenshot's path. Never skips: a missing package is an error.
web-test-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && /usr/bin/python3 -c "import selenium" 2>/dev/null || { \
		echo "installing chromium chromium-driver python3-selenium (browser test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver python3-selenium; }

web-test: deps web-test-deps
	swift build --product heidid
	swift build --product heidictl
	swift build --product heidi-web
	contrib/web/browser-test.sh

## The fleet with real hosts (issue 18): network namespaces joined by veth pairs, a dashboard and three workers, each
## with its own heidid and heidi-web, and Debian's prometheus scraping them (contrib/fleet/netns-test.sh; root). First
## the container files are linted (contrib/fleet/lint.sh: hadolint, docker-compose config), since none can run here.
## Then the fleet page in headless Chromium (contrib/fleet/page-test.sh; web-test-deps' packages).
fleet-test-deps:
	@command -v ip >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null && command -v prometheus >/dev/null \
		&& command -v docker-compose >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || { \
		echo "installing iproute2 openssl curl prometheus docker-compose python3-venv (fleet test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iproute2 openssl curl prometheus docker-compose python3-venv; }

fleet-test: deps fleet-test-deps web-test-deps
	contrib/fleet/lint.sh
	swift build --product heidid
	swift build --product heidictl
	swift build --product heidi-web
	contrib/fleet/netns-test.sh
	contrib/fleet/page-test.sh

## The Python package (contrib/python): mypy --strict, ruff, pytest against the built heidid/heidictl/heidi-web (its own
## tests, over the control socket and through heidi-web with TLS from openssl, and the original engine's ported suites),
## and a wheel. Tools come from PyPI into a venv under .build/.
PYVENV := .build/python-venv
PYTHON_DIST := .build/python-dist

python-deps:
	@python3 -c 'import venv, ensurepip' 2>/dev/null && command -v openssl >/dev/null || { \
		echo "installing python3-venv openssl"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv openssl; }
	@[ -x $(PYVENV)/bin/python ] || python3 -m venv $(PYVENV)
	$(PYVENV)/bin/python -m pip install -q --disable-pip-version-check pytest mypy ruff build 'setuptools>=68' wheel

python-test: deps python-deps
	swift build
	swift build --product heidi-web
	$(PYVENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps --force-reinstall --no-build-isolation ./contrib/python
	cd contrib/python && ../../$(PYVENV)/bin/python -m mypy src tests
	cd contrib/python && ../../$(PYVENV)/bin/ruff check .
	@# pytest exits 5 when it collected nothing: a suite that silently vanished must fail, not pass.
	cd contrib/python && HEIDID=$(CURDIR)/.build/debug/heidid HEIDICTL=$(CURDIR)/.build/debug/heidictl \
		HEIDI_WEB=$(CURDIR)/.build/debug/heidi-web \
		../../$(PYVENV)/bin/python -m pytest -p no:cacheprovider -ra; \
		status=$$?; if [ $$status = 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status
	rm -rf $(PYTHON_DIST) && $(PYVENV)/bin/python -m build --wheel --no-isolation --outdir $(PYTHON_DIST) contrib/python
	@ls $(PYTHON_DIST)/heidi-*.whl

## The APIs against their OpenAPI descriptions (docs/openapi/heidid.yaml, heidi-web.yaml): schemathesis, a property-based
## API fuzzer from PyPI in a venv under .build/, against a running heidid (through a TCP bridge to its Unix socket) and
## heidi-web in front of it (over TCP, with a password): every documented status, header, response shape and error body
## must hold, and nothing undocumented may answer.
## API_EXAMPLES sets the test cases per operation.
API_VENV := .build/api-venv
API_EXAMPLES ?= 50

api-deps:
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { \
		echo "installing python3-venv"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@[ -x $(API_VENV)/bin/python ] || python3 -m venv $(API_VENV)
	$(API_VENV)/bin/python -m pip install -q --disable-pip-version-check 'schemathesis>=4.3,<5'

api-test: deps api-deps
	swift build --product heidid
	swift build --product heidi-web
	$(API_VENV)/bin/python contrib/api/api-test.py --heidid "$$(swift build --show-bin-path)/heidid" \
		--heidi-web "$$(swift build --show-bin-path)/heidi-web" --schemathesis $(API_VENV)/bin/schemathesis \
		--max-examples $(API_EXAMPLES)

## Every relative link and #anchor in the repository's Markdown files resolves (contrib/docs/check-links.py).
docs-check:
	python3 contrib/docs/check-links.py

## The code's format (.swift-format: SwiftNIO's model, 120 columns, ordered imports, file-scoped privacy). format-check
## fails on any file `swift format` would change or warn about; `make format` rewrites them.
FORMATTED := Sources Tests contrib/bench/journal
format:
	swift format format --in-place --parallel -r $(FORMATTED)
format-check:
	swift format lint --strict --parallel -r $(FORMATTED)

## The installed binaries: static Swift runtime, a static heidictl and heidid's memory-saving link (Package.swift,
## HEIDI_STATIC_LINK). A plain `swift build -c release` works too, with an ordinary dynamic link.
release: deps
	HEIDI_STATIC_LINK=1 swift build -c release --static-swift-stdlib

## Install static release binaries, units, sysusers and tmpfiles entries and /etc/heidi/heidi.yaml (never overwrites an
## edited config). heidi-exec must sit next to heidid (stages start through it); heidi-collect is the native generate stage.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(SYSUSERS_DIR) $(DESTDIR)$(TMPFILES_DIR)
	[ -d $(DESTDIR)/etc/heidi ] || install -d -m 0750 $(DESTDIR)/etc/heidi
	install -m 0755 .build/release/heidid .build/release/heidictl .build/release/heidi-exec .build/release/heidi-collect \
		.build/release/heidi-web $(DESTDIR)$(PREFIX)/bin/
	@# Every unit in units/ (heidi.service, heidi.socket, heidi-web.service, ...), its binaries' paths under PREFIX.
	for unit in units/*; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' "$$unit" > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$${unit##*/} && \
		chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$${unit##*/} || exit 1; \
	done
	install -m 0644 contrib/sysusers.d/heidi.conf $(DESTDIR)$(SYSUSERS_DIR)/heidi.conf
	install -m 0644 contrib/tmpfiles.d/heidi.conf $(DESTDIR)$(TMPFILES_DIR)/heidi.conf
	[ -e $(DESTDIR)/etc/heidi/heidi.yaml ] || install -m 0640 config/heidi.yaml $(DESTDIR)/etc/heidi/heidi.yaml
	install -d $(DESTDIR)$(PREFIX)/share/heidi/config $(DESTDIR)$(PREFIX)/share/heidi/contrib/heidi-engine
	install -m 0644 config/heidi-engine.yaml $(DESTDIR)$(PREFIX)/share/heidi/config/heidi-engine.yaml
	install -m 0755 contrib/heidi-engine/split-train-val.sh $(DESTDIR)$(PREFIX)/share/heidi/contrib/heidi-engine/
	install -d $(DESTDIR)$(PREFIX)/share/heidi/collect/templates
	install -m 0644 contrib/collect/templates/*.yaml $(DESTDIR)$(PREFIX)/share/heidi/collect/templates/
	[ -e $(DESTDIR)/etc/heidi/collect.yaml ] || sed 's|^templates: .*|templates: $(PREFIX)/share/heidi/collect/templates|' \
		contrib/collect/collect.yaml > $(DESTDIR)/etc/heidi/collect.yaml
	$(MAKE) install-docs DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) BIN=.build/release
	@echo "installed; now: systemd-sysusers && systemd-tmpfiles --create $(TMPFILES_DIR)/heidi.conf && systemctl daemon-reload && systemctl enable --now heidi.socket heidi.service"

## Shell completions and man pages, generated from the argument parser (BIN: where the built heidictl/heidid are) and
## tidied for man-db (contrib/man/tidy-man-pages.sh); bash completions without the #! line the generator writes (they
## are sourced, not run). heidi-exec, a C helper without an argument parser, has a hand-written page (contrib/man).
BIN ?= .build/debug
DOC_TOOLS := heidictl heidid heidi-collect heidi-web
install-docs:
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/share/man/man1
	for tool in $(DOC_TOOLS); do \
		$(BIN)/$$tool --generate-completion-script bash | sed '1{/^#!/d}' > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$tool; \
		$(BIN)/$$tool --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$tool; \
		$(BIN)/$$tool --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$tool.fish; \
	done
	# argument-parser's generate-manual tool run on the built binaries directly: its package plugin would rebuild every
	# executable of the package in debug mode (and fails on executables without argument-parser, like heidi-exec).
	swift build --product generate-manual >/dev/null
	for tool in $(DOC_TOOLS); do \
		"$$(swift build --show-bin-path)/generate-manual" $(BIN)/$$tool --multi-page --section 1 \
			--output-directory $(DESTDIR)$(PREFIX)/share/man/man1 || exit 1; \
	done
	for tool in $(DOC_TOOLS); do \
		contrib/man/tidy-man-pages.sh $(DESTDIR)$(PREFIX)/share/man/man1/$$tool.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$tool.*.1 && \
		chmod 0644 $(DESTDIR)$(PREFIX)/share/man/man1/$$tool.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$tool.*.1 || exit 1; \
	done
	install -m 0644 contrib/man/heidi-exec.1 $(DESTDIR)$(PREFIX)/share/man/man1/heidi-exec.1

## The Debian package (debian/, debhelper): dpkg-buildpackage -b runs `make release` (a no-op when the release build is
## current) and `make install` into the package, then debhelper's strip, shlibdeps and maintainer scripts. The .deb,
## .buildinfo and .changes land in .build/deb/. deb-deps installs the tools (and lintian, which `make lintian` runs).
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_DIR := .build/deb
DEB := $(DEB_DIR)/heidi_$(DEB_VERSION)_$(DEB_ARCH).deb

deb-deps: deps
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null && command -v lintian >/dev/null || { \
		echo "installing dpkg-dev debhelper lintian"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dpkg-dev debhelper lintian; }

deb: deb-deps
	mkdir -p $(DEB_DIR) && rm -f $(DEB_DIR)/heidi_* $(DEB_DIR)/heidi-dbgsym_*
	dpkg-buildpackage -b --no-sign \
		--buildinfo-file=$(CURDIR)/$(DEB_DIR)/heidi_$(DEB_VERSION)_$(DEB_ARCH).buildinfo --buildinfo-option=-u$(CURDIR)/$(DEB_DIR) \
		--changes-file=$(CURDIR)/$(DEB_DIR)/heidi_$(DEB_VERSION)_$(DEB_ARCH).changes --changes-option=-u$(CURDIR)/$(DEB_DIR)
	@ls -l $(DEB)

## lintian on what `make deb` built (the .changes: the .deb, -dbgsym .deb and .buildinfo); fails on any error or
## warning (`lintian -I` shows the information tags too, docs/packaging.md says why those stay).
## Overrides, each with its reason, are in debian/heidi.lintian-overrides.
lintian: deb-deps
	lintian --fail-on error,warning $(DEB_DIR)/heidi_$(DEB_VERSION)_$(DEB_ARCH).changes

## The end-to-end test against real systemd (root): boots a cached Debian 12 rootfs with systemd-nspawn, installs the
## package `make deb` built with dpkg -i, checks start/status/journal/reload/watchdog/stop/socket activation, an
## upgrade over the running service and that a purge leaves nothing behind (contrib/systemd-e2e/run.sh).
systemd-test: systemd-test-deps deb
	$(SUDO) contrib/systemd-e2e/run.sh --no-build

systemd-test-deps: deps deb-deps
	@command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null || { \
		echo "installing systemd-container debootstrap"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq systemd-container debootstrap; }

clean:
	rm -rf .build
