#!/usr/bin/env bash
# The footprint of `chathost run` idle between chats, as a host would watch
# it: resident memory, threads, CPU ticks and context switches over a
# window, then the same after three reloads (SIGHUP), and log lines.
#
#   bash scripts/bench-idle.sh [SECONDS]      # default 30; 600 for ten minutes
#
# Builds the release binary, starts `chathost sandbox` on loopback and
# `chathost run` against it in a temporary folder; stops both at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
window="${1:-30}"
cargo build --release --locked -q
bin="$PWD/target/release/chathost"
dir="$(mktemp -d)"
run_pid="" sandbox_pid=""
cleanup() { kill ${run_pid:+"$run_pid"} ${sandbox_pid:+"$sandbox_pid"} 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

port=$(( 20000 + RANDOM % 20000 ))
"$bin" sandbox --port "$port" --flavour gotosocial >"$dir/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 50); do grep -q "bot account" "$dir/sandbox.out" 2>/dev/null && break; sleep 0.1; done
token=$(awk '/bot account/ {print $NF}' "$dir/sandbox.out")
cp -r prompts "$dir/"
sed -e "s#url = \"https://mastodon.example\"#url = \"http://127.0.0.1:$port\"#" \
    -e 's/software = "auto"/software = "gotosocial"/' bot.toml >"$dir/bot.toml"
(cd "$dir" && CHATHOST_TOKEN="$token" exec "$bin" run --config bot.toml) 2>"$dir/run.log" &
run_pid=$!
for _ in $(seq 100); do grep -q "next chat" "$dir/run.log" 2>/dev/null && break; sleep 0.1; done
sleep 2

ticks() { awk '{print $14 + $15}' "/proc/$run_pid/stat"; }
# Context switches per thread ("tid count"): a thread that ends during the
# window takes its count with it, so wake-ups are summed per thread over
# the threads alive at the end (a thread started meanwhile counts from 0).
switches() {
  for t in /proc/"$run_pid"/task/*; do
    awk -v tid="${t##*/}" '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print tid, s}' "$t/status" 2>/dev/null || true
  done
}
woke() { awk 'NR == FNR {before[$1] = $2; next} {n += $2 - ($1 in before ? before[$1] : 0)} END {print n + 0}' <(echo "$1") <(switches); }
field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$run_pid/status"; }
measure() {
  local label="$1" t0 s0 l0
  t0=$(ticks); s0="$(switches)"; l0=$(wc -l <"$dir/run.log")
  sleep "$window"
  printf '%-22s rss %6s KiB  anon %5s KiB  threads %s  cpu ticks %s  wake-ups %s  log lines %s  (over %s s)\n' \
    "$label" "$(field VmRSS)" "$(field RssAnon)" "$(field Threads)" \
    "$(( $(ticks) - t0 ))" "$(woke "$s0")" "$(( $(wc -l <"$dir/run.log") - l0 ))" "$window"
}
measure "idle"
before=$(wc -l <"$dir/run.log")
for _ in 1 2 3; do kill -HUP "$run_pid"; sleep 0.3; done
measure "after three reloads"
echo "log lines written by the three reloads and after: $(( $(wc -l <"$dir/run.log") - before ))"
echo "binary: $(stat -c %s "$bin") bytes; rerun: bash scripts/bench-idle.sh $window"
