# The project's commands. `make run` and `make test` are the two that matter;
# the README opens with them.
GO        ?= go
BIN       := bin
PKGS      := ./...
FUZZTIME  ?= 60s
TEST_TIMEOUT ?= 14m

.PHONY: all build test test-short run bench fuzz lint chaos clean

all: lint build test

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The CI command: race detector on, real TCP, real SQLite, real PostgreSQL.
test:
	@scripts/ensure-postgres.sh
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

# Switch + both simulators + embedded journal, with a short demo.
run: build
	@scripts/run.sh

bench: build
	@scripts/bench.sh

# Every fuzz target in the tree for $(FUZZTIME) each.
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# The failure matrix: lost/late/closed responses, bank down with stand-in,
# switchd SIGKILL, two switchd on one PostgreSQL. Prints case, payments sent,
# ledger mismatches (must be 0).
chaos:
	@scripts/chaos.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN) data
