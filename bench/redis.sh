#!/usr/bin/env bash
# Redis numbers for QueuePass, on loopback only, against a throwaway
# redis-server that this script starts (and stops) on port 16390.
#
#   bench/redis.sh [seconds per wrk run, default 5] [rounds, default 3]
#
# 1. Round trips: CONFIG RESETSTAT, then 200 joins, 100 leaves and 20
#    admissions through one node, then the calls of each command that
#    INFO commandstats counts. Commands that scripts run inside Redis are
#    counted too (as their own names); the client's round trips are the
#    EVALSHA calls plus the few plain reads the node makes (the event, at
#    most once a second).
# 2. One node against two: wrk joins against one node (-c64), then against
#    two nodes at once (-c32 each), interleaved in rounds; prints the totals.
# 3. Automatic admission across both nodes: an event admitting 1200 a
#    minute (20 a second); the admitted count over 10 s of wall time, which
#    must be the rate's, not twice it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
rounds="${2:-3}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install -y redis-server" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

RPORT=16390
redis-server --bind 127.0.0.1 --port $RPORT --save "" --appendonly no --dir "$work" --logfile "$work/redis.log" &
pids+=($!)
STORE="redis://127.0.0.1:$RPORT/0"
for _ in $(seq 50); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.1; done

go build -o "$work/queuepass" ./cmd/queuepass
"$work/queuepass" keygen --out "$work/keys.json" >/dev/null
export QUEUEPASS_ADMIN_KEY=redis-bench-admin-key
N1=127.0.0.1:18181
N2=127.0.0.1:18182
for n in $N1 $N2; do
  "$work/queuepass" serve --addr "$n" --store "$STORE" --pass-key-file "$work/keys.json" >/dev/null 2>"$work/serve-$n.log" &
  pids+=($!)
done
for n in $N1 $N2; do
  for _ in $(seq 100); do curl -fs "http://$n/readyz" >/dev/null && break; sleep 0.1; done
done
auth=(-H "Authorization: Bearer $QUEUEPASS_ADMIN_KEY" -H 'Content-Type: application/json')
curl -fs "${auth[@]}" "http://$N1/v1/events" -d '{"id":"rt","name":"Round trips"}' >/dev/null

echo "== round trips: 200 joins, 100 leaves, 20 admissions (count 1) through one node"
redis-cli -p $RPORT config resetstat >/dev/null
ids=()
for i in $(seq 200); do
  ids+=("$(curl -fs -H 'Content-Type: application/json' "http://$N1/v1/events/rt/tickets" -d "{\"user_id\":\"u$i\"}" | sed -E 's/.*"id":"([^"]+)".*/\1/')")
done
for i in $(seq 0 99); do curl -fs -X DELETE "http://$N1/v1/events/rt/tickets/${ids[$i]}" >/dev/null; done
for i in $(seq 20); do curl -fs "${auth[@]}" "http://$N1/v1/events/rt/admissions" -d '{"count":1}' >/dev/null; done
redis-cli -p $RPORT info commandstats | grep -E '^cmdstat_' | sed -E 's/^cmdstat_([a-z|]+):calls=([0-9]+).*/\1 \2/' | sort -k2 -nr

echo "== one node against two on one Redis: wrk joins, $rounds rounds of ${secs}s"
curl -fs "${auth[@]}" "http://$N1/v1/events" -d '{"id":"nodes","name":"Nodes"}' >/dev/null
rate() { awk '/Requests\/sec/ {print $2}'; }
for r in $(seq "$rounds"); do
  one="$(wrk -t2 -c64 -d"${secs}s" -s bench/wrk/join.lua "http://$N1/v1/events/nodes/tickets" | rate)"
  wrk -t1 -c32 -d"${secs}s" -s bench/wrk/join.lua "http://$N1/v1/events/nodes/tickets" | rate >"$work/a" &
  wrk -t1 -c32 -d"${secs}s" -s bench/wrk/join.lua "http://$N2/v1/events/nodes/tickets" | rate >"$work/b"
  wait %% 2>/dev/null || true; sleep 0.2
  two="$(awk '{s += $1} END {printf "%.0f", s}' "$work/a" "$work/b")"
  echo "round $r: one node $one joins/s; two nodes $two joins/s in total"
done
echo "== automatic admission at 1200/min with both nodes pacing"
curl -fs "${auth[@]}" "http://$N1/v1/events" -d '{"id":"auto","name":"Auto","admit_rate_per_minute":1200}' >/dev/null
wrk -t2 -c32 -d2s -s bench/wrk/join.lua "http://$N2/v1/events/auto/tickets" >/dev/null
admitted() { curl -fs "${auth[@]}" "http://$N1/v1/events/auto/stats" | sed -E 's/.*"admitted":([0-9]+).*/\1/'; }
sleep 2
a0="$(admitted)"; t0="$(date +%s.%N)"
sleep 10
a1="$(admitted)"; t1="$(date +%s.%N)"
awk -v a0="$a0" -v a1="$a1" -v t0="$t0" -v t1="$t1" 'BEGIN {
  d = t1 - t0; printf "admitted %d in %.2f s = %.1f/s (the rate is 20/s; one second'"'"'s burst is 20)\n", a1 - a0, d, (a1 - a0) / d }'
echo "== Redis memory: $(redis-cli -p $RPORT info memory | grep -E '^used_memory_human' | tr -d '\r')"
