#!/usr/bin/env bash
# Applies the generated flux-lockdown component to a stand-in of Flux's own install
# (the Deployments, the flux-system Kustomization and the allow-egress policy) and checks
# that the lock-down flags are set and Flux's allow-all egress policy is gone.
set -euo pipefail
KUBECTL="$1"; COMPONENT="$(cd "$2" && pwd)"
base="$(mktemp -d)"; trap 'rm -rf "$base"' EXIT
deploy() {
cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: flux-system}
spec:
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - name: manager
        image: ghcr.io/fluxcd/$1:latest
        args: [--log-level=info]
YAML
}
{
  for c in source-controller kustomize-controller helm-controller notification-controller image-reflector-controller image-automation-controller; do deploy "$c"; done
  cat <<'YAML'
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: flux-system}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{}]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/production, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
YAML
} > "$base/gotk-components.yaml"
cp -r "$COMPONENT" "$base/lockdown"
cat > "$base/kustomization.yaml" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [gotk-components.yaml]
components: [lockdown]
YAML
out="$("$KUBECTL" kustomize "$base")"
fail() { echo "lock-down component: $*" >&2; exit 1; }
grep -q -- '--no-cross-namespace-refs=true' <<<"$out" || fail "no --no-cross-namespace-refs"
grep -q -- '--no-remote-bases=true' <<<"$out" || fail "no --no-remote-bases"
grep -q -- '--default-service-account=default' <<<"$out" || fail "no --default-service-account"
grep -q 'serviceAccountName: kustomize-controller' <<<"$out" || fail "flux-system Kustomization not pinned to kustomize-controller"
grep -q 'name: allow-egress' <<<"$out" && fail "Flux's allow-egress policy is still there"
grep -q 'name: trustc-source-controller-egress' <<<"$out" || fail "source-controller egress policy missing"
echo "ok: lock-down component (flags set, allow-egress removed, egress policies added)"
