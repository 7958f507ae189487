#!/bin/sh
# Install the sockdemo binary for this machine, verified against the release's SHA256SUMS.
#
#   sh install.sh [--prefix DIR] [--version vX.Y.Z]
#
# Environment (all optional):
#   SOCKDEMO_PREFIX    install into $SOCKDEMO_PREFIX/bin (default: $HOME/.local)
#   SOCKDEMO_VERSION   release tag to install (default: the latest release)
#   SOCKDEMO_BASE_URL  where the assets live; overrides the GitHub release URL
#                      (used by the tests to install from a local HTTP server)
#   SOCKDEMO_OS, SOCKDEMO_ARCH   override `uname -s` / `uname -m`
set -eu

repo="sockdemo/sockdemo"
prefix="${SOCKDEMO_PREFIX:-${HOME:-/usr/local}/.local}"
version="${SOCKDEMO_VERSION:-latest}"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --version) version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }

os="${SOCKDEMO_OS:-$(uname -s)}"
arch="${SOCKDEMO_ARCH:-$(uname -m)}"
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "no sockdemo binary for $os; on Windows download sockdemo-windows-x64.exe from the release page" ;;
esac
case "$arch" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "no sockdemo binary for $arch (available: x64, arm64)" ;;
esac
asset="sockdemo-$os-$arch"

if [ -n "${SOCKDEMO_BASE_URL:-}" ]; then
  base="${SOCKDEMO_BASE_URL%/}"
elif [ "$version" = latest ]; then
  base="https://github.com/$repo/releases/latest/download"
else
  base="https://github.com/$repo/releases/download/$version"
fi

download() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL "$1" -o "$2"
  elif command -v wget >/dev/null 2>&1; then wget -q "$1" -O "$2"
  else fail "need curl or wget to download"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else fail "need sha256sum or shasum to verify the download"
  fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "downloading $asset from $base"
download "$base/$asset" "$tmp/$asset" || fail "could not download $base/$asset"
download "$base/SHA256SUMS" "$tmp/SHA256SUMS" || fail "could not download $base/SHA256SUMS"

expected="$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1 }' "$tmp/SHA256SUMS")"
[ -n "$expected" ] || fail "SHA256SUMS has no entry for $asset"
actual="$(sha256 "$tmp/$asset")"
[ "$expected" = "$actual" ] || fail "checksum mismatch for $asset (expected $expected, got $actual); nothing installed"

mkdir -p "$prefix/bin"
chmod 755 "$tmp/$asset"
mv "$tmp/$asset" "$prefix/bin/sockdemo"
echo "installed $("$prefix/bin/sockdemo" --version 2>/dev/null || echo sockdemo) to $prefix/bin/sockdemo"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "add $prefix/bin to your PATH to run it as: sockdemo" ;;
esac
