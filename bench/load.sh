#!/usr/bin/env bash
# Reproducible HTTP load numbers for QueuePass, on loopback only.
#
#   bench/load.sh [seconds per run, default 5] [connections, default 64] [rounds, default 3]
#   STORE=redis://127.0.0.1:6379/0 bench/load.sh ...   (one node on Redis instead of the embedded store)
#   SERVE_ARGS="--limit-join 1000000/s --limit-read 1000000/s" bench/load.sh ...   (extra flags for serve,
#        here rate limits that never refuse, to measure what checking them costs)
#
# Builds queuepass and bench/ceiling, then runs wrk (Debian package "wrk")
# with the same settings against:
#   1. ceiling  POST  - a minimal net/http handler with a fixed JSON body
#   2. queuepass POST /v1/events/$event/tickets  (joins, durable: fsync per batch)
#   3. ceiling  GET
#   4. queuepass GET  /v1/events/$event/tickets/{id} (position reads, after 2.)
# in rounds, interleaved, and prints the median ratios to the ceiling. Every
# server listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
conns="${2:-64}"
rounds="${3:-3}"
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
KEY=load-test-admin-key
store_args=()
if [ -n "${STORE:-}" ]; then
  "$work/queuepass" keygen --out "$work/pass-keys.json" >/dev/null
  store_args=(--store "$STORE" --pass-key-file "$work/pass-keys.json")
fi
event="load-$RANDOM$RANDOM"
read -r -a serve_args <<<"${SERVE_ARGS:-}"
QUEUEPASS_ADMIN_KEY=$KEY "$work/queuepass" serve --addr "$QP" --data "$work/data" "${store_args[@]}" "${serve_args[@]}" >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
"$work/ceiling" -addr "$CEIL" & pids+=($!)
for _ in $(seq 100); do curl -fs "http://$QP/readyz" >/dev/null && curl -fs "http://$CEIL/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$QP/readyz" >/dev/null || { echo "queuepass did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

curl -fs -X POST "http://$QP/v1/events" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$event\",\"name\":\"Load test\"}" >/dev/null

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

echo "wrk -t$threads -c$conns -d${secs}s on $(nproc) cores, loopback; $rounds rounds, interleaved; store: ${STORE:-embedded}; serve ${SERVE_ARGS:-}" >&2
ticket=""
for round in $(seq "$rounds"); do
  echo "round $round" >&2
  cp="$(run ceiling-post -s bench/wrk/join.lua "http://$CEIL/v1/events/$event/tickets")"
  j="$(run queuepass-join -s bench/wrk/join.lua "http://$QP/v1/events/$event/tickets")"
  if [ -z "$ticket" ]; then # the position read target: the back of the line after the first join run
    ticket="$(curl -fs -X POST "http://$QP/v1/events/$event/tickets" -H 'Content-Type: application/json' -d '{"user_id":"the-last-fan"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')"
  fi
  cg="$(run ceiling-get "http://$CEIL/v1/events/$event/tickets/$ticket")"
  r="$(run queuepass-position "http://$QP/v1/events/$event/tickets/$ticket")"
  echo "$j $cp $r $cg" >>"$work/rounds"
done
waiting="$(curl -fs "http://$QP/v1/events/$event" | sed -E 's/.*"waiting":([0-9]+).*/\1/')"
position="$(curl -fs "http://$QP/v1/events/$event/tickets/$ticket" | sed -E 's/.*"position":([0-9]+).*/\1/')"

# The median over rounds of each ratio: the machine is shared, so single
# runs swing; a ratio taken within one round cancels most of that.
awk -v w="$waiting" -v pos="$position" '
  { jr[NR] = $1 / $2; rr[NR] = $3 / $4; j[NR] = $1; cp[NR] = $2; r[NR] = $3; cg[NR] = $4 }
  function median(a, n,   i, k, t, b) { for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 1; i <= n; i++) for (k = i + 1; k <= n; k++) if (b[k] < b[i]) { t = b[i]; b[i] = b[k]; b[k] = t }
    return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2 }
  END {
    n = NR
    printf "\njoins: median %.0f/s = %.0f%% of the ceiling POST rate (median %.0f/s); per round:", median(j, n), 100 * median(jr, n), median(cp, n)
    for (i = 1; i <= n; i++) printf " %.0f%%", 100 * jr[i]; print ""
    printf "position reads (position %d of %d waiting): median %.0f/s = %.0f%% of the ceiling GET rate (median %.0f/s); per round:", pos, w, median(r, n), 100 * median(rr, n), median(cg, n)
    for (i = 1; i <= n; i++) printf " %.0f%%", 100 * rr[i]; print ""
  }' "$work/rounds"
curl -fs -X DELETE "http://$QP/v1/events/$event" -H "Authorization: Bearer $KEY" >/dev/null || true
