#!/usr/bin/env bash
# Builds paddock's release archives into dist/ (or $1):
#
#   paddock-VERSION-linux-{amd64,arm64}.tar.gz     paddock, paddock-oci
#   paddock-VERSION-darwin-{amd64,arm64}.tar.gz    paddock, paddock-oci, paddock-linux-amd64, paddock-linux-arm64
#   paddock-VERSION-windows-amd64.zip              paddock.exe, paddock-oci.exe, paddock-linux-amd64, paddock-linux-arm64
#
# On macOS and Windows sandboxes run on a Docker engine, whose containers run Linux: the Linux
# paddock beside the executables is the relay inside them (the Docker backend's egress, see
# docs/network.md). All binaries are static (CGO_ENABLED=0) and reproducible (-trimpath).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(realpath -m "${1:-$REPO/dist}")
VERSION=${VERSION:-$(git -C "$REPO" describe --tags --always --dirty 2>/dev/null || echo dev)}
PATH=$PATH:/usr/local/go/bin
command -v zip >/dev/null || { echo "scripts/release.sh: zip is required (apt-get install zip)" >&2; exit 1; }
B=$(mktemp -d)
trap 'rm -rf "$B"' EXIT
build() { # GOOS GOARCH DIR
	(cd "$REPO" && CGO_ENABLED=0 GOOS=$1 GOARCH=$2 go build -trimpath -ldflags="-s -w -X github.com/paddockhq/paddock/internal/cli.Version=$VERSION" -o "$3/" ./cmd/paddock ./cmd/paddock-oci)
}
for arch in amd64 arm64; do
	build linux "$arch" "$B/linux-$arch"
done
mkdir -p "$OUT"
for target in linux-amd64 linux-arm64 darwin-amd64 darwin-arm64 windows-amd64; do
	os=${target%-*} arch=${target#*-}
	d=$B/pkg/paddock-$VERSION-$target
	mkdir -p "$d"
	if [[ $os == linux ]]; then
		cp "$B/linux-$arch"/* "$d/"
	else
		build "$os" "$arch" "$d"
		cp "$B/linux-amd64/paddock" "$d/paddock-linux-amd64"
		cp "$B/linux-arm64/paddock" "$d/paddock-linux-arm64"
	fi
	cp "$REPO/README.md" "$d/"
	cp -r "$REPO/docs" "$d/"
	if [[ $os == windows ]]; then
		(cd "$B/pkg" && zip -qr "$OUT/paddock-$VERSION-$target.zip" "paddock-$VERSION-$target")
	else
		tar -C "$B/pkg" -czf "$OUT/paddock-$VERSION-$target.tar.gz" "paddock-$VERSION-$target"
	fi
	echo "$OUT/paddock-$VERSION-$target"
done
