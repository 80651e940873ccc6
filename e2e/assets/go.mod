// Data the end-to-end control plane installs, not built: the KubeRay CRDs
// (config/crd/bases) and samples (config/samples) of one ray-operator
// release. `go mod download -json MODULE` gives their folder, checked against
// go.sum. No package is built from here (see docs/e2e.md).
module github.com/kueue-ray-webhook/e2e/assets

go 1.26.0

require github.com/ray-project/kuberay/ray-operator v1.6.0
