#!/usr/bin/env bash
# Renders the operator's plain manifests (deploy/kubernetes/operator.yaml) from the Helm chart with its
# default values, for clusters installed with kubectl alone. Usage: render.sh HELM > operator.yaml
set -euo pipefail
helm=${1:?usage: render.sh HELM}
root=$(cd "$(dirname "$0")/../.." && pwd)
cat <<'HEADER'
# The impala-copy operator without Helm: namespace, service account, RBAC (cluster-wide) and the
# Deployment, rendered from charts/impala-copy-operator with its default values by `make generate`.
# Do not edit: change the chart. Install the CRDs first:
#   kubectl apply --server-side -f crds/
#   kubectl apply -f deploy/kubernetes/operator.yaml
# The image is impala-copy:<version>: push it to your registry and point the Deployment at it, e.g.
#   kubectl -n impala-copy-system set image deployment/impala-copy-operator operator=registry.example.com/impala-copy:0.1.0
# and set IMPALA_COPY_ENGINE_IMAGE the same way (kubectl set env), or install with Helm instead.
apiVersion: v1
kind: Namespace
metadata:
  name: impala-copy-system
  labels:
    pod-security.kubernetes.io/enforce: restricted
HEADER
"$helm" template impala-copy-operator "$root/charts/impala-copy-operator" --namespace impala-copy-system
