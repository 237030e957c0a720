#!/usr/bin/env bash
# Builds and smoke-tests the Dockerfile on a machine with no container registry.
#
# Base images are made locally instead of pulled: a Debian bookworm minbase rootfs (debootstrap)
# with the runtime-deps packages of the official .NET images and this machine's .NET from
# /usr/share/dotnet, imported as kcb-local-sdk (full SDK + ~/.nuget/packages, so restore is
# offline) and kcb-local-runtime (host + shared runtimes only). The Dockerfile is then built with
#   --build-arg SDK_IMAGE=kcb-local-sdk --build-arg RUNTIME_IMAGE=kcb-local-runtime
# and the image is run with host networking; kcat produces records and consumes them back, and
# the script checks the broker runs as a non-root uid and writes its data to the volume.
#
# Needs root, apt (docker.io, debootstrap), kcat, Debian's mirror reachable (debootstrap). Starts dockerd if no engine
# answers and stops it again at the end. Idempotent: base images are reused when present
# (KCB_REBUILD_BASE=1 rebuilds them). Prints PASS at the end; any failure exits non-zero.
#
#   tools/docker-local-check.sh
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${KCB_DOCKER_WORK:-/tmp/kcb-docker}"
PORT="${KCB_DOCKER_PORT:-29092}"
IMAGE="${KCB_IMAGE:-kafkacompatbroker}"
SDK_IMAGE=kcb-local-sdk
RUNTIME_IMAGE=kcb-local-runtime
CONTAINER=kcb-docker-local-check
DOTNET_DIR=/usr/share/dotnet
MIRROR="${KCB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What the official runtime-deps images install on top of the distro.
RUNTIME_DEPS="ca-certificates libc6 libgcc-s1 libicu72 libssl3 libstdc++6 tzdata zlib1g"

log() { printf '\n== %s\n' "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (dockerd, debootstrap, chroot)"
mkdir -p "$WORK"

STARTED_DOCKERD=""
cleanup() {
    local rc=$?
    docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
    if [ -n "$STARTED_DOCKERD" ]; then
        kill "$STARTED_DOCKERD" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
    fi
    [ $rc = 0 ] || echo "FAIL (exit $rc); dockerd log: $WORK/dockerd.log" >&2
}
trap cleanup EXIT

apt_install() {
    local missing=()
    for cmd_pkg in "$@"; do command -v "${cmd_pkg%%:*}" >/dev/null || missing+=("${cmd_pkg#*:}"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "apt-get install ${missing[*]}"
        apt-get -o DPkg::Lock::Timeout=600 update -q
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
    fi
}
apt_install dockerd:docker.io debootstrap:debootstrap kcat:kcat
[ -x "$DOTNET_DIR/dotnet" ] || die "no .NET at $DOTNET_DIR"

# --- 1. Docker engine --------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: $WORK/dockerd.log)"
    dockerd >"$WORK/dockerd.log" 2>&1 &
    STARTED_DOCKERD=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || die "dockerd did not come up; see $WORK/dockerd.log"
fi

# --- 2. Local base images ----------------------------------------------------------------------
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
if [ "${KCB_REBUILD_BASE:-0}" = 1 ] || ! image_exists "$SDK_IMAGE" || ! image_exists "$RUNTIME_IMAGE"; then
    BASE="$WORK/rootfs-base"
    if [ ! -e "$BASE/.kcb-complete" ]; then
        log "debootstrap bookworm -> $BASE"
        rm -rf "$BASE"
        debootstrap --variant=minbase bookworm "$BASE" "$MIRROR"
        log "installing runtime-deps into the rootfs: $RUNTIME_DEPS"
        chroot "$BASE" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $RUNTIME_DEPS && apt-get clean && rm -rf /var/lib/apt/lists/*"
        touch "$BASE/.kcb-complete"
    fi
    # Trust the same extra CAs as this machine (e.g. a TLS-intercepting egress proxy), so that
    # NuGet (audit, any missing package) and apt inside the build reach their servers as here.
    add_host_cas() {
        if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
            cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
            chroot "$1" update-ca-certificates >/dev/null
        fi
    }
    import_env=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true'
                --change 'ENV DOTNET_NOLOGO=1'
                --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1')
    if [ -n "${NUGET_CERT_REVOCATION_MODE:-}" ]; then
        import_env+=(--change "ENV NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE")
    fi

    log "building $RUNTIME_IMAGE (bookworm + .NET runtime from $DOTNET_DIR)"
    R="$WORK/rootfs-runtime"
    rm -rf "$R" && cp -a "$BASE" "$R" && rm -f "$R/.kcb-complete"
    mkdir -p "$R$DOTNET_DIR"
    cp -a "$DOTNET_DIR/dotnet" "$DOTNET_DIR/host" "$DOTNET_DIR/shared" "$R$DOTNET_DIR/"
    cp -a "$DOTNET_DIR"/LICENSE.txt "$DOTNET_DIR"/ThirdPartyNotices.txt "$R$DOTNET_DIR/" 2>/dev/null || true
    ln -sfn "$DOTNET_DIR/dotnet" "$R/usr/bin/dotnet"
    add_host_cas "$R"
    tar -C "$R" -c . | docker import "${import_env[@]}" - "$RUNTIME_IMAGE" >/dev/null

    log "building $SDK_IMAGE (bookworm + .NET SDK + ~/.nuget/packages)"
    S="$WORK/rootfs-sdk"
    rm -rf "$S" && cp -a "$BASE" "$S" && rm -f "$S/.kcb-complete"
    mkdir -p "$S/usr/share" "$S/root/.nuget"
    cp -a "$DOTNET_DIR" "$S/usr/share/"
    ln -sfn "$DOTNET_DIR/dotnet" "$S/usr/bin/dotnet"
    add_host_cas "$S"
    if [ -d "$HOME/.nuget/packages" ]; then cp -a "$HOME/.nuget/packages" "$S/root/.nuget/"; fi
    tar -C "$S" -c . | docker import "${import_env[@]}" - "$SDK_IMAGE" >/dev/null
    rm -rf "$R" "$S"
fi
docker run --rm "$SDK_IMAGE" dotnet --list-sdks | grep -q . || die "$SDK_IMAGE has no working SDK"
docker run --rm "$RUNTIME_IMAGE" dotnet --list-runtimes | grep -q Microsoft.NETCore.App || die "$RUNTIME_IMAGE has no working runtime"

# --- 3. Build the image ------------------------------------------------------------------------
log "docker build $IMAGE"
docker build --network host \
    --build-arg SDK_IMAGE="$SDK_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
    -t "$IMAGE" "$REPO_DIR"

# --- 4. Run it and talk to it with kcat --------------------------------------------------------
log "docker run $IMAGE on 127.0.0.1:$PORT"
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then die "port $PORT already in use"; fi
docker run -d --name "$CONTAINER" --network host \
    -e KAFKA_LISTENERS="PLAINTEXT://127.0.0.1:$PORT" \
    -e KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://127.0.0.1:$PORT" \
    "$IMAGE" >/dev/null
ok=""
for _ in $(seq 60); do
    if kcat -b "127.0.0.1:$PORT" -L -m 2 >/dev/null 2>&1; then ok=1; break; fi
    [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER")" = true ] || break
    sleep 1
done
[ -n "$ok" ] || { docker logs "$CONTAINER" 2>&1 | tail -40; die "broker did not answer metadata on 127.0.0.1:$PORT"; }

TOPIC="docker-check-$(date +%s)"
log "produce/consume on $TOPIC"
for codec in none gzip snappy lz4 zstd; do
    printf '%s-1\n%s-2\n%s-3\n' "$codec" "$codec" "$codec" \
        | kcat -b "127.0.0.1:$PORT" -P -t "$TOPIC" -z "$codec" -X topic.request.required.acks=all
done
expected=$(for codec in none gzip snappy lz4 zstd; do printf '%s-1\n%s-2\n%s-3\n' "$codec" "$codec" "$codec"; done)
got=$(kcat -b "127.0.0.1:$PORT" -C -t "$TOPIC" -o beginning -e -q -f '%s\n')
[ "$got" = "$expected" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$got"; die "consumed records differ"; }
echo "15 records (uncompressed, gzip, snappy, lz4, zstd) produced and consumed back"

log "non-root user"
uid=$(docker exec "$CONTAINER" id -u)
[ "$uid" != 0 ] || die "broker runs as root"
pid1_uid=$(docker exec "$CONTAINER" sh -c "awk '/^Uid:/{print \$2}' /proc/1/status")
[ "$pid1_uid" = "$uid" ] || die "PID 1 runs as uid $pid1_uid, exec as $uid"
echo "broker process uid $uid"

log "data in the volume"
vol=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/lib/kafkacompatbroker"}}{{.Source}}{{end}}{{end}}' "$CONTAINER")
[ -n "$vol" ] || die "no volume mounted at /var/lib/kafkacompatbroker"
ls -la "$vol"
ls "$vol" | grep -q "^$TOPIC-0$" || die "no $TOPIC-0 directory in the volume ($vol)"
find "$vol/$TOPIC-0" -name '*.log' -size +0 | grep -q . || die "no non-empty segment in $vol/$TOPIC-0"
ls -la "$vol/$TOPIC-0"

docker rm -f -v "$CONTAINER" >/dev/null
echo
echo PASS
