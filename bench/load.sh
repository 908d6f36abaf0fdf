#!/usr/bin/env bash
# Reproducible HTTP load numbers for QueuePass, on loopback only.
#
#   bench/load.sh [seconds per run, default 10] [connections, default 64]
#
# Builds queuepass and bench/ceiling, then runs wrk (Debian package "wrk")
# with the same settings against:
#   1. ceiling  POST  - a minimal net/http handler with a fixed JSON body
#   2. queuepass POST /v1/events/load/tickets  (joins, durable: fsync per batch)
#   3. ceiling  GET
#   4. queuepass GET  /v1/events/load/tickets/{id} (position reads, after 2.)
# and prints requests/s and the ratios to the ceiling. Every server listens
# on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-64}"
threads=2
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/queuepass" ./cmd/queuepass
go build -o "$work/ceiling" ./bench/ceiling

QP=127.0.0.1:18081
CEIL=127.0.0.1:18091
KEY=load-admin-key
QUEUEPASS_ADMIN_KEY=$KEY "$work/queuepass" serve --addr "$QP" --data "$work/data" >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
"$work/ceiling" -addr "$CEIL" & pids+=($!)
for _ in $(seq 100); do curl -fs "http://$QP/readyz" >/dev/null && curl -fs "http://$CEIL/" >/dev/null && break; sleep 0.1; done

curl -fs -X POST "http://$QP/v1/events" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"id":"load","name":"Load test"}' >/dev/null

rate() { # wrk output -> requests/s
  awk '/Requests\/sec/ {print $2}'
}
run() { # name, wrk args...
  local name="$1"; shift
  local out; out="$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@")"
  echo "$out" >"$work/$name.txt"
  local r; r="$(echo "$out" | rate)"
  local p99; p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  local errs; errs="$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  printf '%-22s %10s req/s   p99 %-9s non-2xx %s\n' "$name" "$r" "$p99" "${errs:-0}" >&2
  echo "$r"
}

echo "wrk -t$threads -c$conns -d${secs}s on $(nproc) cores, loopback" >&2
ceil_post="$(run ceiling-post -s bench/wrk/join.lua "http://$CEIL/v1/events/load/tickets")"
joins="$(run queuepass-join -s bench/wrk/join.lua "http://$QP/v1/events/load/tickets")"

waiting="$(curl -fs "http://$QP/v1/events/load" | sed -E 's/.*"waiting":([0-9]+).*/\1/')"
ticket="$(curl -fs -X POST "http://$QP/v1/events/load/tickets" -H 'Content-Type: application/json' -d '{"user_id":"the-last-fan"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')"
ceil_get="$(run ceiling-get "http://$CEIL/v1/events/load/tickets/$ticket")"
reads="$(run queuepass-position "http://$QP/v1/events/load/tickets/$ticket")"

awk -v j="$joins" -v cp="$ceil_post" -v r="$reads" -v cg="$ceil_get" -v w="$waiting" 'BEGIN {
  printf "\njoins: %.0f/s = %.0f%% of the ceiling POST rate (%.0f/s)\n", j, 100*j/cp, cp
  printf "position reads at the back of a line of %d: %.0f/s = %.0f%% of the ceiling GET rate (%.0f/s)\n", w, r, 100*r/cg, cg
}'
