#!/usr/bin/env bash
# kcat 1.7.1 (Debian, librdkafka 2.0.2) driver for the compat tests.
#   client.sh produce <bootstrap> <topic> <codec> <count>   -> {"count":N}
#   client.sh consume <bootstrap> <topic> <count>           -> one line per record: key\tvalue\ttimestamp\theaders
#   client.sh seek-ts <bootstrap> <topic> <timestamp>       -> the first record at or after the timestamp (same format)
#   client.sh metadata <bootstrap> <topic>                  -> kcat -L -J of the topic
#   client.sh group-consume <bootstrap> <topic> <group> <count> -> partition\toffset\tkey per record, as a
#                                                              member of <group> (-G), offsets committed on close
# kcat cannot set per-record headers or timestamps: every record carries h1=kcat and codec=<codec> and a
# CreateTime of "now"; the test computes the checksum of what consume prints.
set -euo pipefail
cmd="${1:?usage: client.sh produce|consume|seek-ts|metadata ...}"
bootstrap="${2:?bootstrap}"
topic="${3:?topic}"
common=(-b "$bootstrap" -X client.id=compat-kcat -X broker.address.family=v4)

case "$cmd" in
  produce)
    codec="${4:?codec}"; count="${5:?count}"
    pad="$(printf 'v%.0s' $(seq 1 100))"
    awk -v n="$count" -v pad="$pad" 'BEGIN { for (i = 0; i < n; i++) printf "key-%d\tvalue-%d-%s\n", i, i, pad }' |
      kcat -P "${common[@]}" -t "$topic" -p 0 -K $'\t' -H h1=kcat -H codec="$codec" \
        -X compression.codec="$codec" -X acks=1 -X linger.ms=50 -X batch.num.messages=10000 \
        -X queue.buffering.max.messages=1000000 -X message.timeout.ms=60000
    echo "{\"count\":$count}"
    ;;
  consume)
    count="${4:?count}"
    kcat -C "${common[@]}" -t "$topic" -p 0 -o beginning -c "$count" -e -q -f '%k\t%s\t%T\t%h\n' \
      -X fetch.message.max.bytes=4194304
    ;;
  seek-ts)
    ts="${4:?timestamp}"
    kcat -C "${common[@]}" -t "$topic" -p 0 -o "s@$ts" -c 1 -e -q -f '%k\t%s\t%T\t%h\t%o\n'
    ;;
  metadata)
    kcat -L "${common[@]}" -t "$topic" -J
    ;;
  group-consume)
    group="${4:?group}"; count="${5:?count}"
    kcat "${common[@]}" -G "$group" "$topic" -c "$count" -q -f '%p\t%o\t%k\n' \
      -X auto.offset.reset=earliest -X enable.auto.commit=true -X session.timeout.ms=10000
    ;;
  *)
    echo "unknown command $cmd" >&2; exit 2
    ;;
esac
