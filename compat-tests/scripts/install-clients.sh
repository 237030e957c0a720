#!/usr/bin/env bash
# Installs the real Kafka clients the compat tests and fixture captures drive (Confluent.Kafka and its
# librdkafka come from NuGet when the projects restore).
# Idempotent: every step checks whether it is already done, so a re-run is fast.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: kcat, kafka-python (+ its optional codecs) and a C toolchain for kafkajs' lz4 plugin (below).
# (The broker's codecs are managed code, and Confluent.Kafka's librdkafka 2.15.1 comes from NuGet's librdkafka.redist.)
apt_packages=(
  kcat
  python3-kafka python3-snappy python3-lz4 python3-zstandard
  build-essential
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "apt: installing ${missing[*]}"
  # Wait for another apt/dpkg run (unattended upgrades on a fresh machine) instead of failing at once.
  apt_lock=(-o DPkg::Lock::Timeout=600)
  as_root apt-get "${apt_lock[@]}" update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_lock[@]}" install -y --no-install-recommends "${missing[@]}"
else
  echo "apt: all packages present"
fi

# kafkajs 2.2.4 and the codec plugins clients/kafkajs/codecs.js registers (kafkajs-snappy, kafkajs-lz4 on
# the native lz4 package, @bokuweb/zstd-wasm + fzstd), pinned by compat-tests/node/package-lock.json.
# lz4 is compiled by node-gyp during npm ci: build-essential above, a python3, and node's headers
# (Debian's nodejs ships them in /usr/include/node, so node-gyp does not download them); package.json
# allowScripts approves lz4's install script (npm 11 asks for that).
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "$tool not found: the kafkajs tests need Node.js and npm on PATH (Node.js 20 is what they run on)" >&2; exit 1; }
done
node_ok() {
  node -e '
    const dir = process.argv[1];
    const lock = require(dir + "/package-lock.json");
    for (const [p, v] of Object.entries(lock.packages)) {
      if (p && require(dir + "/" + p + "/package.json").version !== v.version) process.exit(1);
    }
    require(dir + "/node_modules/lz4"); // the native build
  ' "$compat/node" 2>/dev/null
}
if node_ok; then
  echo "npm: kafkajs 2.2.4 and its codec plugins present"
else
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
  (cd "$compat/node" && npm ci --no-audit --no-fund)
  node_ok || { echo "npm: kafkajs codec plugins did not install (lz4 native build?)" >&2; exit 1; }
fi
