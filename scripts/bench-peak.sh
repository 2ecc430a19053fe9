#!/usr/bin/env bash
# The footprint of `chathost run` at the peak of a 2,000-answer chat: the
# release binary against `chathost sandbox` on loopback with 400
# participants, each answering all five questions within 40 s of it
# (400 x 5 = 2,000 answers, plus their favourites and boosts). The chat
# starts at the next whole minute (UTC), questions one a minute (the
# shortest pacing); /proc is sampled every second from the welcome until
# a minute after Q5: peak resident memory and CPU ticks over the chat.
#
#   bash scripts/bench-peak.sh [PARTICIPANTS]    # default 400
set -euo pipefail
cd "$(dirname "$0")/.."
participants="${1:-400}"
cargo build --release --locked -q
bin="$PWD/target/release/chathost"
dir="$(mktemp -d)"
run_pid="" sandbox_pid=""
cleanup() { kill ${run_pid:+"$run_pid"} ${sandbox_pid:+"$sandbox_pid"} 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

port=$(( 20000 + RANDOM % 20000 ))
"$bin" sandbox --port "$port" --flavour mastodon --participants "$participants" \
  --hashtag Peak --answer-window 40 >"$dir/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q "bot account" "$dir/sandbox.out" 2>/dev/null && break; sleep 0.1; done
token=$(awk '/bot account/ {print $NF}' "$dir/sandbox.out")

# The next whole minute at least 20 s away.
start=$(( ($(date +%s) + 20 + 59) / 60 * 60 ))
mkdir -p "$dir/prompts"
cat >"$dir/prompts/evergreen.toml" <<'Q'
topic = "Peak"

[[question]]
text = "One?"

[[question]]
text = "Two?"

[[question]]
text = "Three?"

[[question]]
text = "Four?"

[[question]]
text = "Five?"
Q
cat >"$dir/bot.toml" <<T
[instance]
url = "http://127.0.0.1:$port"
software = "mastodon"

[state]
dir = "state"

[chats.peak]
hashtag = "Peak"
weekday = "$(date -u -d "@$start" +%A)"
time = "$(date -u -d "@$start" +%H:%M)"
zone = "UTC"
fallback = "evergreen.toml"
duration_minutes = 15
reminders = []

[chats.peak.pacing]
first_question = 1
last_call = 6
T
(cd "$dir" && CHATHOST_TOKEN="$token" exec "$bin" run --config bot.toml) 2>"$dir/run.log" &
run_pid=$!
for _ in $(seq 100); do grep -q "next chat" "$dir/run.log" 2>/dev/null && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$run_pid/stat"; }
field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$run_pid/status"; }
idle_rss=$(field VmRSS)
sleep $(( start - $(date +%s) ))
t0=$(ticks); peak=0; peak_at=0
# Welcome at 0, Q1..Q5 at minutes 1..5; answers until ~5:40; a minute more.
for s in $(seq 0 $(( 6 * 60 + 30 ))); do
  rss=$(field VmRSS)
  if (( rss > peak )); then peak=$rss; peak_at=$s; fi
  sleep 1
done
used=$(( $(ticks) - t0 ))
printf 'peak: rss before the chat %s KiB; peak rss %s KiB (%s s after the welcome, anon %s KiB now); cpu ticks over the chat %s (%s s, %s Hz); threads %s\n' \
  "$idle_rss" "$peak" "$peak_at" "$(field RssAnon)" "$used" "$(( 6 * 60 + 30 ))" "$(getconf CLK_TCK)" "$(field Threads)"
# What the store holds, read beside the running service (read-only).
status=$(cd "$dir" || exit; "$bin" status --format json --config bot.toml 2>/dev/null) || true
echo "the store, by chathost status: $(printf '%s' "$status" | python3 -c 'import json, sys
d = json.load(sys.stdin)
for c in d.get("chats", []):
    last = c.get("last") or {}
    print(c.get("name"), "steps posted", last.get("steps", {}).get("posted"), "answers", last.get("answers"), "participants", last.get("participants"))' 2>/dev/null || echo unreadable)"
echo "rerun: bash scripts/bench-peak.sh $participants"
