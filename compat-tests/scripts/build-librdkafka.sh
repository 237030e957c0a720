#!/usr/bin/env bash
# Builds librdkafka 2.15.1 (the native library Confluent.Kafka 2.15.1 needs) from the C source
# shipped inside the npm package @confluentinc/kafka-javascript@1.10.1, and caches the result at
#   ${KCB_CACHE_DIR:-$HOME/.cache/kafkacompatbroker}/librdkafka-2.15.1/librdkafka.so
# The last line printed is that path. A cached build is reused.
# Never use Debian's librdkafka (2.0.2) with Confluent.Kafka 2.15.1: newer calls crash it.
set -euo pipefail

version=2.15.1
npm_package=@confluentinc/kafka-javascript@1.10.1
cache_dir="${KCB_CACHE_DIR:-$HOME/.cache/kafkacompatbroker}/librdkafka-$version"
target="$cache_dir/librdkafka.so"

if [ -s "$target" ]; then
  echo "librdkafka $version: cached" >&2
  echo "$target"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "librdkafka $version: building in $work" >&2
(
  cd "$work"
  npm pack --silent "$npm_package" >/dev/null
  tar -xzf ./*.tgz
  cd package/deps/librdkafka
  grep -q "#define RD_KAFKA_VERSION  *0x020f01" src/rdkafka.h ||
    { echo "unexpected librdkafka version in $npm_package" >&2; exit 1; }
  # (mklove treats any file named configure.* in this directory as a module: keep logs elsewhere.)
  ./configure >"$work/configure-output.txt" 2>&1 || { cat "$work/configure-output.txt" >&2; exit 1; }
  make -j"$(nproc)" -C src lib >"$work/make-output.txt" 2>&1 || { tail -50 "$work/make-output.txt" >&2; exit 1; }
) >&2

mkdir -p "$cache_dir"
cp "$work/package/deps/librdkafka/src/librdkafka.so.1" "$target.tmp"
mv "$target.tmp" "$target"
echo "$target"
