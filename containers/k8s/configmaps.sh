#!/usr/bin/env bash
# Writes configmap-schedules.yaml and configmap-profiles.yaml from the
# repository's schedules/ and src/behaviour/profiles/. Run it after changing
# either; tests/deploy.rs fails while the two are out of step.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-.}
emit() {
  local name=$1 src=$2 out=$3
  {
    echo "# Made by containers/k8s/configmaps.sh from $src/; do not edit by hand."
    echo "apiVersion: v1"
    echo "kind: ConfigMap"
    echo "metadata:"
    echo "  name: $name"
    echo "  labels:"
    echo "    app.kubernetes.io/name: bevara"
    echo "data:"
    for f in ../../"$src"/*.toml; do
      echo "  $(basename "$f"): |"
      sed -e 's/^/    /' -e 's/^    $//' "$f"
    done
  } > "$out"
}
emit bevara-schedules schedules "$out/configmap-schedules.yaml"
emit bevara-profiles src/behaviour/profiles "$out/configmap-profiles.yaml"
