# kueue-ray-webhook: the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
BIN := target/debug/kueue-ray-webhook
CERTS := certs

.PHONY: run test build certs bench

## build: compile the debug binary
build:
	$(CARGO) build

## certs: generate a development CA and serving certificate into certs/ (once)
certs: $(CERTS)/tls.crt

$(CERTS)/tls.crt:
	$(CARGO) run --quiet -- certs --out $(CERTS)

## run: serve the webhook on https://localhost:9443 (admin on http://localhost:8080)
run: build certs
	$(BIN) serve --tls-cert-file $(CERTS)/tls.crt --tls-key-file $(CERTS)/tls.key

## test: formatting, lints and every test (unit and integration)
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

## bench: release build; Criterion on the pure path, then the load benchmark
## (webhook vs TLS floor server); tables on stdout, JSON in target/bench/
bench:
	$(CARGO) bench --bench pure
	$(CARGO) bench --bench load
