#!/bin/sh
# Install the Debian packages husk needs, only those missing.
#   scripts/deps.sh build   compiler, meson, libraries, busybox-static
#   scripts/deps.sh test    the above plus the test runners
set -eu
build="gcc pkg-config meson ninja-build libjansson-dev libseccomp-dev libsystemd-dev libarchive-dev nettle-dev libzstd-dev zlib1g-dev busybox-static"
test="$build python3 python3-pytest systemd dbus iproute2 zstd uidmap golang-github-containers-common"
# make check fuzzes when clang is there; its libFuzzer runtime is only a
# Recommends of Debian's clang.
if command -v clang >/dev/null 2>&1; then
	test="$test libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
fi
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
