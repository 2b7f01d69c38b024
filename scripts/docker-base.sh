#!/usr/bin/env bash
# A local base image for docker/Dockerfile where no registry image can be pulled:
# Debian 12 (bookworm) from the Debian mirror apt already uses here (debootstrap), plus this
# machine's Python 3.10 copied in at the same path (its libpython is found by that path).
#
#   scripts/docker-base.sh [IMAGE]      # default fanzha-base:bookworm-py3.10; no-op when it exists
#   PYTHON_HOME=/root/.pyenv/versions/3.12.1 scripts/docker-base.sh fanzha-base:bookworm-py3.12
#                                       # another interpreter, e.g. for GATEWAY_BASE_IMAGE
#
# The image also carries Debian's redis-server (the compose test's Redis: redis:7-alpine cannot
# be pulled either) and this machine's local CA certificates (/usr/local/share/ca-certificates,
# e.g. a TLS-inspecting proxy's), so pip and apt inside a build reach what the host reaches.
# Real deployments keep python:3.10-slim-bookworm (docker/Dockerfile's default BASE_IMAGE).
set -euo pipefail
IMAGE="${1:-fanzha-base:bookworm-py3.10}"
PYTHON_HOME="${PYTHON_HOME:-$(dirname "$(dirname "$(readlink -f "$(scripts/find-python.sh)")")")}"
WORK="${DOCKER_BASE_WORK:-/var/tmp/fanzha-docker-base/${IMAGE//[:\/]/_}}"  # one root file system per image
MIRROR="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "docker-base: $IMAGE exists"
  exit 0
fi
# The shared libraries the interpreter and its extension modules link against.
PACKAGES=ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libuuid1,zlib1g,libexpat1,libtirpc3,redis-server
rootfs="$WORK/rootfs"
if [ ! -x "$rootfs/usr/bin/redis-server" ]; then
  rm -rf "$rootfs" && mkdir -p "$WORK"
  echo "docker-base: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log"
fi
echo "docker-base: copying $PYTHON_HOME"
mkdir -p "$rootfs$PYTHON_HOME"
# The interpreter as installed, without site-packages' .pth hooks of this machine.
tar -C "$PYTHON_HOME" --exclude='site-packages/*.pth' --exclude='site-packages/README.txt' \
  --exclude='__pycache__' -cf - . | tar -C "$rootfs$PYTHON_HOME" -xf -
# An image user other than root must reach the interpreter (docker/Dockerfile runs as uid 1000).
chmod 755 "$rootfs/root"
chmod -R a+rX "$rootfs$PYTHON_HOME"
ln -sf "$PYTHON_HOME/bin/python3" "$rootfs/usr/local/bin/python"
ln -sf "$PYTHON_HOME/bin/python3" "$rootfs/usr/local/bin/python3"
ln -sf "$PYTHON_HOME/bin/pip3" "$rootfs/usr/local/bin/pip"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
echo "docker-base: importing $IMAGE"
tar -C "$rootfs" -c . | docker import \
  --change "ENV PATH=$PYTHON_HOME/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
  --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
docker run --rm --network host "$IMAGE" python -c "import ssl, sqlite3, ctypes, lzma, bz2; print('docker-base: python', __import__('sys').version.split()[0], 'ok')"
