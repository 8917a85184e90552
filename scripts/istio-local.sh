#!/usr/bin/env bash
# Runs two dedicated-mode ztunnels on loopback against Istio's own control plane
# (interop/istio: istiod's discovery server and CA, RSA root), with an HTTP backend behind the
# server pod, and sends one request through the HBONE tunnel. Then keeps running until Ctrl-C:
#
#   curl --socks5 127.0.0.11:15080 http://127.10.0.10/        # client pod -> echo service
#   curl -s 127.0.0.1:15000/config_dump                        # what istiod pushed (node A admin)
#   curl -X PUT --data-binary @examples/istio-localhost.yaml http://$CONTROL/objects
#
# Needs Go and Rust toolchains and python3; no root. OBJECTS=<file> serves other objects.
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS=${OBJECTS:-examples/istio-localhost.yaml}
state=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT INT TERM

mkdir -p target/interop
(cd interop/istio && go build -o ../../target/interop/istio-cp ./cmd/istio-cp)
cargo build --quiet --bin ztunnel

# The control plane prints one JSON line with its addresses once it serves.
coproc CP { target/interop/istio-cp serve --objects "$OBJECTS" --state-dir "$state" 2>"$state/istiod.log"; }
pids+=("$CP_PID")
read -r line <&"${CP[0]}"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$line" "$1"; }
XDS=$(field xds) CA=$(field ca) CONTROL=$(field control) ROOT=$(field root_cert)
echo "istiod (Istio's code): xDS $XDS, CA $CA, objects at http://$CONTROL/objects, root $ROOT"

python3 -m http.server 8080 --bind 127.0.0.12 >"$state/backend.log" 2>&1 &
pids+=("$!")

node() { # name ip workload admin-port
  printf '%s' "$3" >"$state/token-$1"
  env PROXY_MODE=dedicated PROXY_WORKLOAD_INFO="$3" NODE_NAME="$1" INSTANCE_IP="$2" \
    POD_NAMESPACE="${3%%/*}" POD_NAME="$(basename "$(dirname "$3")")" \
    XDS_ADDRESS="https://$XDS" CA_ADDRESS="https://$CA" XDS_ROOT_CA="$ROOT" CA_ROOT_CA="$ROOT" \
    ALT_XDS_HOSTNAME=istiod.istio-system.svc ALT_CA_HOSTNAME=istiod.istio-system.svc \
    AUTH_TOKEN="$state/token-$1" UNSTABLE_ENABLE_SOCKS5=true \
    ZTUNNEL_OUTBOUND_ADDR="$2:15001" ZTUNNEL_INBOUND_ADDR="$2:15008" ZTUNNEL_INBOUND_PLAINTEXT_ADDR="$2:15006" \
    ZTUNNEL_SOCKS5_ADDR="$2:15080" ZTUNNEL_READINESS_ADDR="$2:15021" ZTUNNEL_METRICS_ADDR="$2:15020" \
    ZTUNNEL_ADMIN_ADDR="127.0.0.1:$4" target/debug/ztunnel proxy >"$state/$1.log" 2>&1 &
  pids+=("$!")
}
# The bearer token names the pod (interop/istio/README.md): each ztunnel gets its pod's own.
node node-a 127.0.0.11 default/client/client 15000
node node-b 127.0.0.12 default/server/server 15010
for url in http://127.0.0.11:15021/healthz/ready http://127.0.0.12:15021/healthz/ready http://127.0.0.12:8080/; do
  for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done
echo "through the tunnel:"
if ! curl -sS --max-time 10 --socks5 127.0.0.11:15080 -o /dev/null -w '  GET http://127.10.0.10/ -> %{http_code}\n' http://127.10.0.10/; then
  tail -n 5 "$state"/node-a.log "$state"/node-b.log "$state"/istiod.log >&2
  exit 1
fi
grep -h 'HBONE connection established' "$state/node-a.log" | head -1 | cut -c1-300 || true
echo "running; logs in $state; Ctrl-C stops everything"
wait
