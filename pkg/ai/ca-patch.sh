#!/bin/bash
# ca-patch.sh: during bootstrap, put the aggregator (front-proxy) CA into the
# kube-system/extension-apiserver-authentication ConfigMap so CN2's aggregated API server
# is trusted. Runs on every discovery host; only the bootstrap host has the files, so the
# others retry until they reboot.
export KUBECONFIG=/etc/kubernetes/bootstrap-secrets/kubeconfig
CA=/etc/kubernetes/bootstrap-secrets/aggregator-ca.crt
PATCH=$(mktemp /tmp/ca-patch.XXXXXX.yaml)
while true; do
  if [ -r "$CA" ]; then
    {
      echo "data:"
      echo "  requestheader-client-ca-file: |"
      sed 's/^/    /' "$CA"
    } > "$PATCH"
    if kubectl patch configmap extension-apiserver-authentication -n kube-system --patch-file "$PATCH"; then
      rm -f "$PATCH"
      exit 0
    fi
  fi
  sleep 60
done
