#!/usr/bin/env bash
# Produces the fixture record set (see README.md) to fixtures/0 with kcat 1.7.1 (Debian, librdkafka 2.0.2).
# Usage: kcat-capture.sh <bootstrap> <none|gzip|snappy|lz4|zstd>
# kcat cannot set per-record timestamps or headers: every record carries the -H headers
# (h1=kcat, and h2 with a null value) and a CreateTime of "now".
# Records are one per line, key and value separated by a tab; -Z turns the empty key into null.
set -euo pipefail
bootstrap="${1:?usage: kcat-capture.sh <bootstrap> <codec>}"
codec="${2:?usage: kcat-capture.sh <bootstrap> <codec>}"

input="$(mktemp)"
trap 'rm -f "$input"' EXIT
for i in $(seq 0 9); do
  if [ "$i" -eq 3 ]; then key=""; else key="key-$i"; fi
  value="$(printf "value-$i %.0s" $(seq 1 25))"
  printf '%s\t%s\n' "$key" "$value" >>"$input"
done

kcat -P -b "$bootstrap" -t fixtures -p 0 -K $'\t' -Z \
  -H h1=kcat -H h2 \
  -X client.id=fixture-kcat \
  -X compression.codec="$codec" \
  -X acks=1 \
  -X linger.ms=1000 \
  -X message.timeout.ms=15000 \
  -X broker.address.family=v4 \
  -l "$input"
