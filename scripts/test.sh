#!/usr/bin/env bash
# Installs what paddock's tests need on a Debian/Ubuntu machine and runs every test.
# Run as root (the privileged tests need it; the rootless tests create their own unprivileged user).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/test.sh: run as root (sudo bash scripts/test.sh): the suite runs sandboxes as root and as a user it creates" >&2
	exit 1
fi

# Commands the tests use, and the Debian package that brings each (a machine may have them from
# elsewhere, e.g. Node.js from NodeSource, so look for the command, not the package).
need=()
for pair in git:git python3:python3 node:nodejs npm:npm ps:procps ip:iproute2 useradd:passwd \
	setpriv:util-linux unshare:util-linux newuidmap:uidmap tmux:tmux curl:curl ssh:openssh-client ssh-keygen:openssh-client; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# The egress tests run pip inside sandboxes, which see the system's python3 (not a user's pyenv).
env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# The OCI template tests build a small image around a static busybox.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
# ... and a real Debian root filesystem (minbase + sudo) with mmdebstrap, built once and kept in
# /var/cache/paddock-test between runs (internal/e2e/debian_test.go).
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
# The disk-limit tests make XFS images with project quotas (internal/e2e/disk_test.go).
command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
if [ ${#need[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi

# The Docker engine: image import tests and the Docker backend run against a real one.
bash scripts/start-dockerd.sh

# Go: the machine's /usr/local/go if present, else the distribution's, which fetches the
# toolchain go.mod names through the Go module proxy.
export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export CGO_ENABLED=0
go version

echo "--- go vet"
go vet ./...
go vet -tags e2e ./internal/e2e/
echo "--- cross-build for darwin and windows (the Docker backend is their default)"
GOOS=darwin go build ./...
GOOS=windows go build ./...
echo "--- go test"
go test -tags e2e -count=1 -timeout 45m ./... 2>&1
echo "--- go test ./... as an ordinary user (a newcomer's first run: unit tests only, all pass)"
bash scripts/test-user.sh
echo "--- the VM lane: a systemd host (scripts/test-vm.sh)"
bash scripts/test-vm.sh
