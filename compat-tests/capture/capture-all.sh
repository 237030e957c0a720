#!/usr/bin/env bash
# Captures the request frames real clients send, as test fixtures:
#   tests/KafkaCompatBroker.ClientFixtures.Tests/Fixtures/<client>/<codec>/NNN-<ApiName>-v<version>.bin
# For each (client, codec) it starts tools/KafkaCompatBroker.FixtureRecorder on a free port, runs the
# client's capture script against it, and stops the recorder. Existing fixtures of that pair are replaced.
#
# Usage: compat-tests/capture/capture-all.sh [client[/codec] ...]   (default: everything)
#   e.g. capture-all.sh kcat confluent-dotnet/zstd
# Needs compat-tests/scripts/install-clients.sh to have run (kcat, kafka-python, kafkajs, librdkafka).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fixtures="$repo/tests/KafkaCompatBroker.ClientFixtures.Tests/Fixtures"
python=/usr/bin/python3   # Debian's python with python3-kafka, not a pyenv one

all_pairs=(
  kcat/none kcat/gzip kcat/snappy kcat/lz4 kcat/zstd
  confluent-dotnet/none confluent-dotnet/gzip confluent-dotnet/snappy confluent-dotnet/lz4 confluent-dotnet/zstd
  confluent-dotnet/none-idempotent
  kafkajs/none kafkajs/gzip
  kafka-python/none kafka-python/gzip kafka-python/snappy kafka-python/lz4 kafka-python/zstd
)

selected=()
if [ "$#" -eq 0 ]; then
  selected=("${all_pairs[@]}")
else
  for arg in "$@"; do
    matched=0
    for pair in "${all_pairs[@]}"; do
      if [ "$pair" = "$arg" ] || [ "${pair%%/*}" = "$arg" ]; then selected+=("$pair"); matched=1; fi
    done
    [ "$matched" -eq 1 ] || { echo "unknown client or client/codec: $arg" >&2; exit 2; }
  done
fi

command -v kcat >/dev/null || { echo "kcat missing: run compat-tests/scripts/install-clients.sh" >&2; exit 1; }
[ -d "$repo/compat-tests/node/node_modules/kafkajs" ] || { echo "kafkajs missing: run compat-tests/scripts/install-clients.sh" >&2; exit 1; }
"$python" -c 'import kafka' 2>/dev/null || { echo "kafka-python missing: run compat-tests/scripts/install-clients.sh" >&2; exit 1; }

logs="$(mktemp -d)"
recorder_pid=""
cleanup() {
  if [ -n "$recorder_pid" ]; then kill "$recorder_pid" 2>/dev/null || true; wait "$recorder_pid" 2>/dev/null || true; fi
  rm -rf "$logs"
}
trap cleanup EXIT

echo "building the recorder and the Confluent.Kafka capture app" >&2
for project in "$repo/tools/KafkaCompatBroker.FixtureRecorder" "$here/ConfluentCapture"; do
  dotnet build "$project" -c Release -nologo -v quiet >"$logs/build" 2>&1 || { cat "$logs/build" >&2; exit 1; }
done
recorder="$repo/tools/KafkaCompatBroker.FixtureRecorder/bin/Release/net10.0/KafkaCompatBroker.FixtureRecorder.dll"
confluent="$here/ConfluentCapture/bin/Release/net10.0/ConfluentCapture.dll"


failed=()
for pair in "${selected[@]}"; do
  client="${pair%%/*}"
  variant="${pair#*/}"
  codec="${variant%%-*}"
  out="$fixtures/$client/$variant"
  log="$logs/${client}-${variant}"
  rm -rf "$out"
  mkdir -p "$out"

  : >"$log.recorder"
  dotnet "$recorder" --out "$out" --port 0 >"$log.recorder" 2>&1 &
  recorder_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log.recorder" | head -n 1 || true)"
    [ -n "$port" ] && break
    kill -0 "$recorder_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "$pair: recorder did not start" >&2; cat "$log.recorder" >&2; exit 1
  fi
  bootstrap="127.0.0.1:$port"

  case "$client" in
    kcat) cmd=("$here/kcat-capture.sh" "$bootstrap" "$codec") ;;
    confluent-dotnet)
      cmd=(dotnet "$confluent" "$bootstrap" "$codec")
      [ "$variant" = "$codec-idempotent" ] && cmd+=(--idempotent)
      ;;
    kafkajs) cmd=(node "$here/kafkajs-capture.js" "$bootstrap" "$codec") ;;
    kafka-python) cmd=("$python" "$here/kafka-python-capture.py" "$bootstrap" "$codec") ;;
  esac

  status=0
  timeout 90 "${cmd[@]}" >"$log.client" 2>&1 || status=$?
  kill "$recorder_pid" 2>/dev/null || true
  wait "$recorder_pid" 2>/dev/null || true
  recorder_pid=""

  produced="$(find "$out" -name '*-Produce-v*.bin' | wc -l)"
  if [ "$status" -ne 0 ] || [ "$produced" -eq 0 ]; then
    echo "$pair: FAILED (client exit $status, $produced Produce frames)" >&2
    sed 's/^/  client: /' "$log.client" >&2
    sed 's/^/  recorder: /' "$log.recorder" >&2
    failed+=("$pair")
  else
    echo "$pair: $(ls "$out" | tr '\n' ' ')"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
