#!/usr/bin/env bash
# Installs the real Kafka clients the compat tests and fixture captures drive.
# Idempotent: every step checks whether it is already done, so a re-run is fast.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: kcat, kafka-python (+ its optional codecs), librdkafka build and runtime deps.
apt_packages=(
  kcat
  python3-kafka python3-snappy python3-lz4 python3-zstandard
  build-essential libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev pkg-config
  libsnappy1v5 liblz4-1 libzstd1
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "apt: installing ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "apt: all packages present"
fi

# kafkajs 2.2.4, pinned by compat-tests/node/package-lock.json.
if [ -f "$compat/node/node_modules/kafkajs/package.json" ] &&
   grep -q '"version": "2.2.4"' "$compat/node/node_modules/kafkajs/package.json"; then
  echo "npm: kafkajs 2.2.4 present"
else
  (cd "$compat/node" && npm ci --no-audit --no-fund)
fi

# librdkafka 2.15.1 for Confluent.Kafka (cached outside the clone).
"$here/build-librdkafka.sh"
