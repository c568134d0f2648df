# pocketsnap — build, test, lint, bench. CI runs `make lint test`.
GO      ?= go
BIN     ?= bin/pocketsnap
FUZZTIME ?= 10s

.PHONY: build test test-tools test-minio lint fuzz-smoke bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/pocketsnap

# The README's test command. Installs the real tools the interop tests use
# (age, zstd, GNU tar, python3) when they are missing and the MinIO server
# the remote tests run against, then runs every test with the race
# detector and a short fuzz smoke of every parser.
test: test-tools test-minio
	POCKETSNAP_MINIO=$$(scripts/install-minio) $(GO) test -race -count=1 -timeout 25m ./...
	$(MAKE) fuzz-smoke

test-tools:
	scripts/install-test-tools

# Builds the pinned MinIO server into the user's cache the first time
# (about five minutes on two cores); later runs find it there.
test-minio:
	scripts/install-minio >/dev/null

fuzz-smoke:
	$(GO) test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./manifest/
	$(GO) test -run=NONE -fuzz=FuzzExtract -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./extract/
	$(GO) test -run=NONE -fuzz=FuzzTrailer -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./chunkstore/
	$(GO) test -run=NONE -fuzz=FuzzParseSidecar -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./compat/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) mod tidy -diff

# Builds the datasets once (a debootstrap'd Debian rootfs, RocksDB
# directories; ~/.cache/pocketsnap-bench), compares pocketsnap with the
# classic pipeline, restic and borg on them, runs scripts/bench,
# bench-export, bench-db-downtime, bench-offsite and the Go
# micro-benchmarks, and writes all of it to BENCHMARKS.md. BENCH_SMALL=1
# shrinks everything (see scripts/bench-compare).
bench: test-tools
	scripts/bench-compare

clean:
	rm -rf bin
