#!/usr/bin/env bash
# Runs a command with a Docker engine and the local base images the Docker image tests build on, e.g.
#   tools/with-docker.sh dotnet test tests/KafkaCompatBroker.Docker.Tests -c Release
#
# No container registry is needed: base images are made locally instead of pulled: a Debian bookworm minbase
# rootfs (debootstrap) with the runtime-deps packages of the official .NET images and this machine's .NET from
# /usr/share/dotnet, imported as kcb-local-sdk (full SDK + ~/.nuget/packages, so the image's restore is offline)
# and kcb-local-runtime (host + shared runtimes only). The command runs with
#   KCB_DOCKER_SDK_IMAGE=kcb-local-sdk KCB_DOCKER_RUNTIME_IMAGE=kcb-local-runtime
# which tests/KafkaCompatBroker.Docker.Tests passes to the Dockerfile's SDK_IMAGE / RUNTIME_IMAGE arguments.
#
# Needs root (dockerd, debootstrap, chroot), apt for docker.io and debootstrap, Debian's mirror reachable. Starts
# dockerd when no engine answers and stops it again when the command ends. Base images are reused when present
# (KCB_REBUILD_BASE=1 rebuilds them). Untagged (dangling) images are pruned afterwards. Exits with the command's
# exit code.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${KCB_DOCKER_WORK:-/tmp/kcb-docker}"
SDK_IMAGE=kcb-local-sdk
RUNTIME_IMAGE=kcb-local-runtime
DOTNET_DIR=/usr/share/dotnet
MIRROR="${KCB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What the official runtime-deps images install on top of the distro.
RUNTIME_DEPS="ca-certificates libc6 libgcc-s1 libicu72 libssl3 libstdc++6 tzdata zlib1g"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'with-docker: %s\n' "$*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: tools/with-docker.sh <command> [args...]"
[ "$(id -u)" = 0 ] || die "run as root (dockerd, debootstrap, chroot)"
[ -x "$DOTNET_DIR/dotnet" ] || die "no .NET at $DOTNET_DIR"
mkdir -p "$WORK"

STARTED_DOCKERD=""
stop_dockerd() {
    if [ -n "$STARTED_DOCKERD" ]; then
        kill "$STARTED_DOCKERD" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
    fi
}
trap stop_dockerd EXIT

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >&2
fi

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
        debootstrap --variant=minbase bookworm "$BASE" "$MIRROR" >&2
        log "installing runtime-deps into the rootfs: $RUNTIME_DEPS"
        chroot "$BASE" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $RUNTIME_DEPS && apt-get clean && rm -rf /var/lib/apt/lists/*" >&2
        touch "$BASE/.kcb-complete"
    fi
    # Trust the same extra CAs as this machine (e.g. a TLS-intercepting egress proxy), so that
    # NuGet (audit, any missing package) inside the build reaches its servers as here.
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

    # The packages the image's `dotnet publish` restores, so that the build inside needs no network.
    log "restoring the server's packages into ~/.nuget/packages"
    dotnet restore "$REPO_DIR/src/KafkaCompatBroker.Server" -v q >&2
    log "building $SDK_IMAGE (bookworm + .NET SDK + ~/.nuget/packages)"
    S="$WORK/rootfs-sdk"
    rm -rf "$S" && cp -a "$BASE" "$S" && rm -f "$S/.kcb-complete"
    mkdir -p "$S/usr/share" "$S/root/.nuget"
    cp -a "$DOTNET_DIR" "$S/usr/share/"
    ln -sfn "$DOTNET_DIR/dotnet" "$S/usr/bin/dotnet"
    add_host_cas "$S"
    cp -a "$HOME/.nuget/packages" "$S/root/.nuget/"
    tar -C "$S" -c . | docker import "${import_env[@]}" - "$SDK_IMAGE" >/dev/null
    rm -rf "$R" "$S"
fi
docker run --rm "$SDK_IMAGE" dotnet --list-sdks | grep -q . || die "$SDK_IMAGE has no working SDK"
docker run --rm "$RUNTIME_IMAGE" dotnet --list-runtimes | grep -q Microsoft.NETCore.App || die "$RUNTIME_IMAGE has no working runtime"

# --- 3. The command ----------------------------------------------------------------------------
# Testcontainers' Docker client asks for API 1.44 unless told otherwise; Debian 12's docker.io (20.10) serves 1.41.
api_version="$(docker version --format '{{.Server.APIVersion}}')"
set +e
DOCKER_API_VERSION="$api_version" KCB_DOCKER_SDK_IMAGE="$SDK_IMAGE" KCB_DOCKER_RUNTIME_IMAGE="$RUNTIME_IMAGE" "$@"
rc=$?
set -e
# The tests delete the image they build; the build stage it was made in stays behind untagged.
docker image prune -f >/dev/null || true
exit $rc
