# pocketsnap — build, test, lint, bench. CI runs `make lint test`.
GO      ?= go
BIN     ?= bin/pocketsnap
# Fuzz smoke budgets are execution counts (about 10 s each on two cores),
# not durations: Go 1.26's fuzz coordinator can fail a duration run with
# "context deadline exceeded" at the deadline on a busy machine without
# any failing input (go.dev/issue/75804, fixed in Go 1.27).
FUZZ_EXECS ?= 150000
FUZZ_EXECS_EXTRACT ?= 10000

.PHONY: build release test test-cross test-tools test-minio lint fuzz-smoke bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/pocketsnap

# Static binaries for the phone (android/arm64 for Termux; linux/arm64 and
# linux/arm GOARM=7 for a proot-distro Debian) and linux/amd64 into dist/,
# with SHA256SUMS. See scripts/release.
release:
	GO=$(GO) scripts/release dist

# Runs the linux/arm64 and linux/arm binaries and the package tests of
# chunkstore, pipeline, manifest and compat under qemu user-mode emulation
# (installed by scripts/install-test-tools). See scripts/test-cross.
test-cross: test-tools
	GO=$(GO) scripts/test-cross

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
	$(GO) test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZ_EXECS)x -fuzzminimizetime=100x ./manifest/
	$(GO) test -run=NONE -fuzz=FuzzSetDelta -fuzztime=$(FUZZ_EXECS)x -fuzzminimizetime=100x ./manifest/
	$(GO) test -run=NONE -fuzz=FuzzExtract -fuzztime=$(FUZZ_EXECS_EXTRACT)x -fuzzminimizetime=100x ./extract/
	$(GO) test -run=NONE -fuzz=FuzzTrailer -fuzztime=$(FUZZ_EXECS)x -fuzzminimizetime=100x ./chunkstore/
	$(GO) test -run=NONE -fuzz=FuzzParseSidecar -fuzztime=$(FUZZ_EXECS)x -fuzzminimizetime=100x ./compat/
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=$(FUZZ_EXECS)x -fuzzminimizetime=100x ./config/

# Vets the 32-bit targets too: Timespec, Statfs_t and int are narrower there.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) vet ./...
	GOOS=linux GOARCH=386 CGO_ENABLED=0 $(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) mod tidy -diff

# Builds the datasets once (a debootstrap'd Debian rootfs, RocksDB
# directories; ~/.cache/pocketsnap-bench), compares pocketsnap with the
# classic pipeline, restic and borg on them, runs scripts/bench,
# bench-export, bench-db-downtime, bench-offsite and the Go
# micro-benchmarks, and writes all of it to BENCHMARKS.md with issue 20's
# goals. BENCH_SMALL=1 shrinks everything; BENCH_PREPARE=1 only builds the
# cached datasets (see scripts/bench-compare).
bench: test-tools
	scripts/bench-compare

clean:
	rm -rf bin dist
