# simlearn: `make demo` and `make test` each do all the set-up they need.
#
#   make setup   fetch/build the native assets into $(SIMLEARN_HOME) (scripts/setup)
#   make test    setup (with the test assets), go vet, go test
#   make demo    setup, then the quick start (examples/quickstart): encode WordNet
#                glosses into the cache, fine-tune, compare before/after, save;
#                run it again to see the warm cache
#   make bench   setup, then the benchmarks (scripts/bench, when present)

SHELL := bash
GO ?= go
SIMLEARN_HOME ?= $(HOME)/.cache/simlearn
export SIMLEARN_HOME
# libtokenizers.a, built by scripts/setup, is linked from here.
export CGO_LDFLAGS := -L$(SIMLEARN_HOME)/lib $(CGO_LDFLAGS)

.PHONY: setup setup-test test demo bench

setup:
	scripts/setup

setup-test:
	scripts/setup --test

test: setup-test
	$(GO) vet ./...
	$(GO) test ./...

demo: setup
	$(GO) run ./examples/quickstart

bench: setup
	@if [[ -x scripts/bench ]]; then scripts/bench; \
	else $(GO) test ./onnx -run '^$$' -bench EncodeSTSB -benchtime 3x; fi
