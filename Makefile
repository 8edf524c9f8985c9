# app: a systemd-native, socket-activated cluster. `make help` lists targets.

# A Debian version (x.y.z, or x.y.z-N for the Nth packaging of x.y.z);
# `make deb VERSION=1.2.3` sets it.
VERSION     ?= 0.1.0~dev
# Who the package names as its maintainer (Maintainer:, and the changelog's
# signature), and its home page (Homepage:, left out when empty).
MAINTAINER  ?= app developers <dev@app.invalid>
HOMEPAGE    ?=
# Every time stamp in the package (file times, the changelog's date): the
# last commit's time, so that two builds of a commit are the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export MAINTAINER HOMEPAGE SOURCE_DATE_EPOCH
GO          ?= go
BIN         := bin
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# v2.44.0 builds from the Go module proxy here; newer ones do not.
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.44.0
DEB_BUILD   := dist/build-$(VERSION)
# WORKER=path packages that program as /usr/bin/app instead of the
# reference worker.
WORKER      ?=

.PHONY: help build test unit node python fuzz e2e e2e-deps lint deb repo demo bench bench-quick bench-deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/app and the other commands, stamped with VERSION
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

test: e2e-deps lint unit node python fuzz e2e ## everything CI runs: lint, then every test

unit: ## the Go tests (real sockets and processes; no root needed)
	$(GO) test -count=1 -race ./...

node: ## the Node.js helper's tests, under node's own test runner (real sockets, processes, systemd-notify)
	@command -v node >/dev/null || { echo "make node: needs Node.js (apt-get install nodejs)" >&2; exit 1; }
	@command -v python3 >/dev/null || { echo "make node: the notify socket's receiver needs python3" >&2; exit 1; }
	cd worker/node/app-cluster && node --test test/app-cluster.test.js

python: ## the Python helper's own logic (standard library only); its worker is proven by the guides' e2e test
	@command -v python3 >/dev/null || { echo "make python: needs python3" >&2; exit 1; }
	cd worker/python && python3 -m unittest -v test_app_cluster

# Budgets in executions, not seconds: with a duration, Go 1.26's fuzz
# coordinator can fail at the deadline with "context deadline exceeded"
# and no failing input (go.dev/issue/75804, fixed in 1.27). About 20 s each
# on a 2-CPU machine.
FUZZPARSE ?= 60000x
FUZZGEN   ?= 30000x
fuzz: ## bounded fuzzing runs of the config parser and the generator's output (FUZZPARSE, FUZZGEN executions)
	$(GO) test -run '^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZPARSE) -fuzzminimizetime=5s ./units/
	$(GO) test -run '^$$' -fuzz='^FuzzGenerate$$' -fuzztime=$(FUZZGEN) -fuzzminimizetime=5s ./units/

e2e: e2e-deps ## the tests on a throwaway real systemd (root)
	$(GO) test -tags e2e -count=1 -v -timeout 30m ./e2e/

e2e-deps:
	@[ "$$(id -u)" = 0 ] || { echo "make e2e: the systemd tests boot containers and need root" >&2; exit 1; }
	@missing=""; command -v systemd-nspawn >/dev/null || missing="$$missing systemd-container"; \
	command -v lintian >/dev/null || missing="$$missing lintian"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	command -v apt-ftparchive >/dev/null || missing="$$missing apt-utils"; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v ssh >/dev/null || missing="$$missing openssh-client"; \
	command -v gnuplot >/dev/null || missing="$$missing gnuplot-nox"; \
	[ -x /usr/lib/polkit-1/polkitd ] || missing="$$missing polkitd"; \
	[ -f /usr/share/bash-completion/bash_completion ] || missing="$$missing bash-completion"; \
	command -v zsh >/dev/null || missing="$$missing zsh"; \
	command -v fish >/dev/null || missing="$$missing fish"; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@# Ansible, as Debian ships it, and the apt module's python3-apt
	@# (TestFleet runs packaging/ansible).
	@command -v ansible-playbook >/dev/null && /usr/bin/python3 -c 'import apt' 2>/dev/null || { echo "installing ansible-core python3-apt"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core python3-apt >/dev/null; }
	@# The metrics' scraper (TestSeveralApps), without its extra collectors.
	@[ -x /usr/bin/prometheus-node-exporter ] || { echo "installing prometheus-node-exporter"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null; }

lint: ## gofmt, go vet, staticcheck, go.mod tidy
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags e2e ./e2e/
	$(GO) mod tidy -diff

deb: ## dist/app_$(VERSION)_amd64.deb, built with nfpm
	@echo '$(VERSION)' | grep -Eq '^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$$' || { echo "make deb: VERSION=$(VERSION) is not a Debian version such as 1.2.3 or 1.2.3-2" >&2; exit 1; }
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)
	# Linked against libc (cgo), position-independent, full RELRO: what
	# Debian's hardening checks want of binaries it ships.
	CGO_ENABLED=1 $(GO) build -trimpath -buildmode=pie \
		-ldflags '$(LDFLAGS) -linkmode=external -extldflags "-Wl,-z,relro,-z,now"' -o $(DEB_BUILD)/ ./cmd/...
	for b in $(DEB_BUILD)/app*; do objcopy --remove-section=.comment "$$b"; done
	$(if $(WORKER),install -m 0755 $(WORKER) $(DEB_BUILD)/app)
	packaging/changelog.sh '$(VERSION)' | gzip -9n > $(DEB_BUILD)/changelog.gz
	for m in packaging/man/*.[158]; do gzip -9n < "$$m" > $(DEB_BUILD)/$$(basename "$$m").gz; done
	# Completion for bash, zsh and fish, from the commands' own definition.
	$(DEB_BUILD)/app-reloader completion bash > $(DEB_BUILD)/app-reloader.bash
	$(DEB_BUILD)/app-reloader completion zsh > $(DEB_BUILD)/_app-reloader
	$(DEB_BUILD)/app-reloader completion fish > $(DEB_BUILD)/app-reloader.fish
	VERSION='$(VERSION)' BIN_DIR=$(DEB_BUILD) DIST_DIR=$(DEB_BUILD) \
		$(GO) run $(NFPM) package -f nfpm.yaml -p deb -t dist/app_$(VERSION)_amd64.deb

# The packages `make repo` publishes; every version built so far by default.
DEBS     ?= $(sort $(wildcard dist/app_*_amd64.deb))
REPO_DIR ?= dist/repo
repo: ## a signed APT repository in dist/repo of dist/*.deb (REPO_KEY_FILE or REPO_KEY_ID, REPO_URL; see README)
	REPO_DIR='$(REPO_DIR)' packaging/repo.sh $(DEBS)

demo: e2e-deps ## the live demo: install, then upgrade under load, on a throwaway systemd (root)
	$(MAKE) --no-print-directory deb VERSION=1.0.0 >/dev/null
	$(MAKE) --no-print-directory deb VERSION=2.0.0 >/dev/null
	$(GO) run ./e2e/demo dist/app_1.0.0_amd64.deb dist/app_2.0.0_amd64.deb

bench: e2e-deps bench-deps ## app against pm2 on a throwaway systemd; writes docs/BENCHMARKS.md (root, about 100 min)
	$(GO) run ./e2e/bench -out docs $(BENCHFLAGS)

bench-quick: e2e-deps bench-deps ## the headline ratios (beside pm2, steady p99 under saturating load, beside bare net/http, rollout overhead), each paired, for iterating; prints them (root, under 10 min)
	$(GO) run ./e2e/bench -headline -reps 2 $(BENCHFLAGS)

bench-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "installing nodejs npm"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@# the second load generator, beside vegeta
	@command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

clean: ## remove build output
	rm -rf $(BIN) dist
