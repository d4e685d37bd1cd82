# socle — two commands: `make run` and `make test`. Everything they need is installed here.
GO       ?= go
BIN      := bin/socle
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X socle/internal/cli.version=$(VERSION)
FUZZTIME ?= 15s

.PHONY: run test build image deps browser-deps portal-vendor transfers-vendor bench fuzz vet clean

## run: build and run the platform with its embedded defaults and the demo data
run: deps build
	./$(BIN) serve --demo

## test: vet and run every test, with the race detector, against a real PostgreSQL, then the
## pages in a real browser
test: deps browser-deps build
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...
	@# The Helm chart (deploy/helm/socle), in a Go module of its own: Helm and the Kubernetes
	@# API types stay out of socle's go.mod. No race detector: no goroutines of ours to race.
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...
	node --test internal/visio/notes/static/
	SOCLE_TRANSFER_TEST_MB=1024 node --test --test-concurrency=1 tests/browser/
	node --test --test-concurrency=1 tests/wallet/
	cd tools/image && $(GO) vet ./... && $(GO) test -count=1 ./...

## bench: the benchmarks, each printing its figures against a baseline measured in the same run
bench: deps build bin/caddy
	@ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || { \
	  echo "installing PostGIS for the resolver's baseline"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql-$$(ls /usr/lib/postgresql | sort -n | tail -1)-postgis-3 >/dev/null; }
	./$(BIN) bench aml
	./$(BIN) bench resolve
	./$(BIN) bench held
	./$(BIN) bench visio
	./$(BIN) bench gateway -caddy bin/caddy
	./$(BIN) bench wallet
	./$(BIN) bench wallet -softhsm
	./$(BIN) bench transfer
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/emergency/geo/ ./internal/emergency/aml/ \
		./internal/emergency/porting/ ./internal/platform/audit/ ./internal/gateway/analytics/ ./internal/platform/xmlsafe/

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

build: portal-vendor transfers-vendor
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/socle

## image: socle's OCI image (docs/operations-image.md), without a container engine: socle for
## linux/amd64 with cgo (PKCS#11), stripped of its symbol table and DWARF (stack traces keep
## their names and lines), on a base made of Debian packages, assembled by tools/image (its own
## module, so that go-containerregistry stays out of socle's go.mod). Writes the OCI layout
## bin/socle-image/ and bin/socle-image.tar for docker load / podman load.
IMAGE_SOURCE   ?=
IMAGE_LICENSES ?=
image: portal-vendor transfers-vendor
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o bin/socle-linux-amd64 ./cmd/socle
	cd tools/image && $(GO) run . -binary $(CURDIR)/bin/socle-linux-amd64 \
	  -layout $(CURDIR)/bin/socle-image -tar $(CURDIR)/bin/socle-image.tar \
	  -version $(VERSION) -revision "$$(git rev-parse HEAD 2>/dev/null)" \
	  -created "$$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
	  -source "$(IMAGE_SOURCE)" -licenses "$(IMAGE_LICENSES)"

## bin/caddy: Caddy from its Go module, in a module of its own (tools/caddy) so that it stays
## out of socle's go.mod: the gateway's benchmark compares socle with its reverse_proxy
bin/caddy: tools/caddy/main.go tools/caddy/go.mod tools/caddy/go.sum
	cd tools/caddy && $(GO) build -trimpath -o ../../bin/caddy .

## deploy-check: a real kube-apiserver and etcd, built from their Go modules (tools/kube) into
## bin/kube, on loopback, accept a server-side dry run of every object the Helm chart renders
## (`cd deploy && go run ./cmd/render`; tools/kube's sample manifests until that exists), with
## Pod Security "restricted" enforced. Not part of `make test`: the API server alone takes
## minutes to build (once: bin/kube is rebuilt only when tools/kube/{apiserver,etcd} change).
KUBE_BIN := bin/kube
.PHONY: deploy-check
deploy-check: $(KUBE_BIN)/kube-apiserver $(KUBE_BIN)/etcd
	cd tools/kube && KUBE_BIN_DIR=$(CURDIR)/$(KUBE_BIN) $(GO) test -count=1 -timeout 15m ./...
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	if [ -d deploy/cmd/render ]; then \
	  echo "rendering the chart: cd deploy && go run ./cmd/render -out $$out"; \
	  (cd deploy && $(GO) run ./cmd/render -out "$$out") || exit 1; \
	else \
	  echo "deploy/cmd/render does not exist yet: checking tools/kube/testdata/samples instead"; \
	  cp tools/kube/testdata/samples/*.yaml "$$out"/; \
	fi; \
	cd tools/kube && $(GO) run ./cmd/dryrun -bin $(CURDIR)/$(KUBE_BIN) "$$out"

# The version ldflags are what Kubernetes' own build sets (hack/lib/version.sh); without them
# the server reports v0.0.0-master, which clients' version skew checks dislike.
$(KUBE_BIN)/kube-apiserver: tools/kube/apiserver/main.go tools/kube/apiserver/go.mod tools/kube/apiserver/go.sum
	@echo "building kube-apiserver from k8s.io/kubernetes (several minutes, once)"
	cd tools/kube/apiserver && v=$$($(GO) list -m -f '{{.Version}}' k8s.io/kubernetes) && \
	  m=$${v#v} && major=$${m%%.*} && minor=$${m#*.} && minor=$${minor%%.*} && \
	  $(GO) build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$$v \
	    -X k8s.io/component-base/version.gitMajor=$$major -X k8s.io/component-base/version.gitMinor=$$minor" \
	    -o $(CURDIR)/$@ .

$(KUBE_BIN)/etcd: tools/kube/etcd/main.go tools/kube/etcd/go.mod tools/kube/etcd/go.sum
	cd tools/kube/etcd && $(GO) build -trimpath -o $(CURDIR)/$@ .

## portal-vendor: Swagger UI, the developer portal's OpenAPI viewer, from the npm package pinned in
## package.json into the portal's embedded files (not committed); Node.js and npm are installed
## if missing. Should npm fail, the build goes on: the portal then lists each API's operations
## without the viewer.
PORTAL_VENDOR := internal/gateway/portal/static/npm
portal-vendor:
	@if ! command -v npm >/dev/null; then \
	  echo "installing Node.js and npm (the portal's documentation viewer comes from npm)"; \
	  missing="npm"; command -v node >/dev/null || missing="nodejs npm"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || true; \
	fi
	@if [ ! -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ] && command -v npm >/dev/null; then \
	  npm ci --silent --no-audit --no-fund --ignore-scripts || true; \
	fi
	@if [ -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ]; then \
	  cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(PORTAL_VENDOR)/; \
	else echo "swagger-ui-dist is not installed (npm ci): the portal will list operations without its viewer"; fi

## transfers-vendor: tus-js-client, the transfer pages' resumable upload client, from the npm
## package pinned in package.json into collab's embedded files (not committed), as portal-vendor
## does; without it the pages say that sending is unavailable.
TRANSFERS_VENDOR := internal/collab/static/transfers/npm
transfers-vendor: portal-vendor
	@if [ ! -f node_modules/tus-js-client/dist/tus.min.js ] && command -v npm >/dev/null; then \
	  npm ci --silent --no-audit --no-fund --ignore-scripts || true; \
	fi
	@if [ -f node_modules/tus-js-client/dist/tus.min.js ]; then \
	  cp node_modules/tus-js-client/dist/tus.min.js $(TRANSFERS_VENDOR)/; \
	else echo "tus-js-client is not installed (npm ci): the transfer pages cannot upload"; fi

## deps: what the machine needs: Go (present on these machines), PostgreSQL's server binaries,
## a C compiler for the race detector and PKCS#11 (cgo), SoftHSM2, and clamav-daemon
deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or later is required"; exit 1; }
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL server binaries"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@command -v gcc >/dev/null || { echo "installing gcc for the race detector (cgo)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }
	@# SoftHSM2: the PKCS#11 token of the wallet issuer's key tests (internal/wallet).
	@command -v softhsm2-util >/dev/null || { echo "installing SoftHSM2 for the PKCS#11 tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; }
	@/usr/bin/python3 -c 'import icalendar' 2>/dev/null || { echo "installing python3-icalendar, the polls' tests' independent iCalendar reader"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-icalendar >/dev/null; }
	@# vpx-tools: vpxdec, the real VP8 decoder the E2EE browser test runs on recordings of the SFU's forwarded video.
	@command -v vpxdec >/dev/null || { echo "installing vpx-tools (vpxdec) for the E2EE test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vpx-tools >/dev/null; }
	@# clamav-daemon: the transfers' virus scan (internal/collab), tested with its own EICAR signature.
	@{ command -v clamd >/dev/null || test -x /usr/sbin/clamd; } && command -v sigtool >/dev/null || { \
	  echo "installing clamav-daemon for the transfers' virus scan tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon clamav >/dev/null; }
	@$(GO) mod download

## browser-deps: Debian's Chromium and the pinned playwright-core that drives it
browser-deps:
	@# Only what is missing: these machines' Node.js (nodesource) carries its own npm and
	@# conflicts with Debian's npm package, so asking apt for both fails.
	@missing=""; command -v chromium >/dev/null || missing=" chromium"; \
	if ! command -v node >/dev/null; then missing="$$missing nodejs npm"; \
	elif ! command -v npm >/dev/null; then missing="$$missing npm"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (for the browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@npm ci --silent --no-audit --no-fund --ignore-scripts
	@# WHIP: GStreamer's webrtcbin from Python publishes into a room (tests/browser/visio-whip.test.mjs).
	@# simple-whip-client too, for people to try by hand (docs/visio-whip.md says why the test does not use it).
	@/usr/bin/python3 -c "import gi; gi.require_version('GstWebRTC', '1.0')" 2>/dev/null && command -v whip-client >/dev/null || { \
	  echo "installing GStreamer's WebRTC (for the WHIP test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-gi gir1.2-gst-plugins-bad-1.0 \
	    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice simple-whip-client >/dev/null; }

clean:
	rm -rf bin var artifacts node_modules
