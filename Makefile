# cn2-appliance build and test entry points. `make check` is what CI runs.
GO       ?= go
BIN      := bin/cn2-appliance
PKG      := ./cmd/cn2-appliance
LAB      ?= configs/lab.example.yaml
PREFIX   ?= /usr/local
GOBIN    := $(shell $(GO) env GOPATH)/bin
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build test lint check deps run install fuzz bench clean

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

fuzz:
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzLoad -fuzztime 60s

# install puts the binary, the systemd unit (+ sysusers/tmpfiles) and, if there is none yet,
# the example lab under /etc/cn2-appliance (edit it: it names fake secrets).
# bench runs the side-by-side benchmarks (as root): DNS vs dnsmasq, DHCP vs Kea.
bench:
	$(GO) run ./bench/dns
	$(GO) run ./bench/dhcp

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cn2-appliance
	install -D -m 0644 systemd/cn2-appliance.service $(DESTDIR)/etc/systemd/system/cn2-appliance.service
	install -D -m 0644 systemd/cn2-appliance.sysusers $(DESTDIR)/usr/lib/sysusers.d/cn2-appliance.conf
	install -D -m 0644 systemd/cn2-appliance.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/cn2-appliance.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/cn2-appliance/README.md
	test -e $(DESTDIR)/etc/cn2-appliance/lab.yaml || install -D -m 0640 $(LAB) $(DESTDIR)/etc/cn2-appliance/lab.yaml

clean:
	rm -rf bin
