#!/usr/bin/env bash
# Runs `go test ./...` as an ordinary user, on a copy of this tree: what a newcomer types first.
# Without -tags e2e the end-to-end suite does not run, and tests that need root skip (they fail
# in CI only when CI runs them as root and they cannot run). Run as root; makes user
# paddock-newcomer if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
user=paddock-newcomer
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
rm -rf "$home/paddock"
mkdir -p "$home/paddock"
git ls-files -z | xargs -0 cp --parents -t "$home/paddock"
# Files of this change that git does not know yet (a run before committing).
git ls-files -z --others --exclude-standard | xargs -0 -r cp --parents -t "$home/paddock"
chown -R "$user:" "$home/paddock"
go=$(command -v go)
# CI is unset: this is a user's machine, where privileged tests skip.
su "$user" -c "cd ~/paddock && env -u CI PATH=$(dirname "$go"):/usr/bin:/bin CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-auto} go test -count=1 ./..."
