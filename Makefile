# cn2-appliance build and test entry points. `make check` is what CI runs.
GO       ?= go
BIN      := bin/cn2-appliance
PKG      := ./cmd/cn2-appliance
LAB      ?= configs/lab.example.yaml
PREFIX   ?= /usr/local
GOBIN    := $(shell $(GO) env GOPATH)/bin
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build test lint check deps run install fuzz bench clean schema

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) $(PKG)

# deps installs (as root, idempotently) the Debian packages the tests drive and the linters.
deps:
	./scripts/install-test-deps.sh

test:
	$(GO) test -count=1 -timeout 45m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	PATH="$$PATH:$(GOBIN)" staticcheck ./...

# check is the README's test command: packages, linters, every test.
check: deps lint test

# run is the rehearsal: the whole appliance on loopback against the installer simulator.
run: build
	$(BIN) rehearse -c $(LAB) --log-level warn

# schema regenerates configs/lab.schema.json from pkg/config's types (a test fails when it is stale).
schema:
	$(GO) generate ./pkg/config

fuzz:
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzLoad -fuzztime 60s

# bench runs the side-by-side benchmarks (as root): DNS vs dnsmasq, DHCP vs Kea, TFTP vs
# tftpd-hpa, HTTP vs nginx, each with its limit row, and the boot storm; one that fails does not
# stop the others. bench/summary ends the output with one table of their BENCH lines.
# STORM_SIZES picks the storm's lab sizes.
STORM_SIZES ?= 5,50,200,1000,2000
bench:
	@{ for b in dns dhcp tftp http; do $(GO) run ./bench/$$b || echo "bench/$$b failed"; done; \
	   $(GO) run ./bench/storm -sizes $(STORM_SIZES) || echo "bench/storm failed"; } 2>&1 | $(GO) run ./bench/summary

# install puts the binary, the systemd unit (+ sysusers/tmpfiles), the README and the example
# lab, whole (lab file, fake secrets 0640 as real ones should be, manifests: it validates where
# it is), under $(DOCDIR)/examples. It installs no /etc/cn2-appliance/lab.yaml: that is the
# operator's lab (the README says how to start it from the example).
DOCDIR   := $(PREFIX)/share/doc/cn2-appliance
EXAMPLES := $(shell cd configs && find lab.example.yaml example-secrets example-manifests -type f)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cn2-appliance
	install -D -m 0644 systemd/cn2-appliance.service $(DESTDIR)/etc/systemd/system/cn2-appliance.service
	install -D -m 0644 systemd/cn2-appliance.sysusers $(DESTDIR)/usr/lib/sysusers.d/cn2-appliance.conf
	install -D -m 0644 systemd/cn2-appliance.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/cn2-appliance.conf
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	for f in $(EXAMPLES); do install -D -m 0644 configs/$$f $(DESTDIR)$(DOCDIR)/examples/$$f || exit 1; done
	chmod 0640 $(DESTDIR)$(DOCDIR)/examples/example-secrets/*
	install -d -m 0750 $(DESTDIR)/etc/cn2-appliance

clean:
	rm -rf bin
