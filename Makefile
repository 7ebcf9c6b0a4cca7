# heidi: make demo | make test | make build | make install (DESTDIR=, PREFIX=)
PREFIX ?= /usr/local
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test release clean

## Install the system packages the build needs (libsystemd-dev; libssl-dev and pkg-config are usually present).
deps:
	@pkg-config --exists libsystemd libcrypto 2>/dev/null || { \
		echo "installing libsystemd-dev libssl-dev pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libsystemd-dev libssl-dev pkg-config; }

build: deps
	swift build

## Run the bundled demo pipeline: daemon up, 2 full rounds of real child processes, status, events, journal verified.
demo: deps
	contrib/demo/run-demo.sh

## Run every test suite (unit, real-process supervision, end to end with the built binaries).
test: deps
	swift build
	swift test

release: deps
	swift build -c release --static-swift-stdlib

clean:
	rm -rf .build
