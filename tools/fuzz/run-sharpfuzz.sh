#!/usr/bin/env bash
# Coverage-guided fuzzing of the codecs with SharpFuzz + AFL++ (see README, "Fuzzing").
#   tools/fuzz/run-sharpfuzz.sh [target] [seconds]
# target: request (default) | records | metadata-record; seconds: default 300.
# Needs afl++ (apt-get install afl++); installs the sharpfuzz instrumenter (SharpFuzz.CommandLine) if missing.
# Work files go to $KCB_FUZZ_WORK (default /tmp/kcb-sharpfuzz/<target>); crashes are in <work>/findings/default/crashes,
# each replayable with: dotnet <work>/bin/KafkaCompatBroker.Fuzz.dll replay <target> <file>
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${1:-request}"
seconds="${2:-300}"
work="${KCB_FUZZ_WORK:-/tmp/kcb-sharpfuzz/$target}"
sharpfuzz_version=2.3.0

case "$target" in
  request) libraries=(KafkaCompatBroker.Protocol.dll) ;;
  records) libraries=(KafkaCompatBroker.Records.dll) ;;
  metadata-record) libraries=(KafkaCompatBroker.Protocol.dll KafkaCompatBroker.Controller.dll) ;;
  *) echo "unknown target $target (request, records, metadata-record)" >&2; exit 2 ;;
esac

if ! command -v afl-fuzz >/dev/null; then
  echo "afl-fuzz not found: apt-get install afl++" >&2
  exit 1
fi

tools="$work/../.tools"
if ! command -v sharpfuzz >/dev/null && [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$tools"
fi
sharpfuzz="$(command -v sharpfuzz || echo "$tools/sharpfuzz")"

rm -rf "$work/bin" "$work/corpus"
mkdir -p "$work"
dotnet publish tools/KafkaCompatBroker.Fuzz -c Release -o "$work/bin" --nologo -v quiet

# The seed corpus is written before instrumenting: valid inputs of every API/version, batch and record type.
dotnet "$work/bin/KafkaCompatBroker.Fuzz.dll" corpus "$target" "$work/corpus"
for library in "${libraries[@]}"; do
  "$sharpfuzz" "$work/bin/$library"
done

# AFL++ runs the managed program as its target: the binary check and the CPU governor check do not apply.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
resume="-i $work/corpus"
if [ -d "$work/findings/default/queue" ]; then
  resume="-i -"   # go on from the last run's queue
fi
# shellcheck disable=SC2086
afl-fuzz $resume -o "$work/findings" -t 5000 -m none -V "$seconds" -- dotnet "$work/bin/KafkaCompatBroker.Fuzz.dll" "$target" || true

crashes=("$work"/findings/default/crashes/id:*)
hangs=("$work"/findings/default/hangs/id:*)
[ -e "${crashes[0]}" ] || crashes=()
[ -e "${hangs[0]}" ] || hangs=()
grep -E "execs_done|execs_per_sec|corpus_count|bitmap_cvg|saved_crashes|saved_hangs" "$work/findings/default/fuzzer_stats" || true
echo "${#crashes[@]} crashes, ${#hangs[@]} hangs in $work/findings/default"
for crash in "${crashes[@]}"; do
  echo "replay: dotnet $work/bin/KafkaCompatBroker.Fuzz.dll replay $target '$crash'"
done
[ "${#crashes[@]}" -eq 0 ]
