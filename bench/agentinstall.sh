#!/usr/bin/env bash
# Agent installs inside the fence (issue 18, "Speed"):
#
#   bash bench/agentinstall.sh     # writes bench/results/agentinstall-latest.md
#
#   hot path:  `paddock run claude -- --version` in a sandbox whose agent is installed (running,
#              reused), with this tree's paddock and with BASE's (default: the commit before the
#              install sandbox, which asked the registry for the latest version at every start).
#              Target: faster than BASE (no registry on the hot path).
#   install:   a fresh install of PKG (default @anthropic-ai/claude-code, its latest) in the install
#              sandbox (`paddock agents update`, from an empty PADDOCK_HOME: npm view, npm config,
#              sandbox, npm install, paddock's registry check, read-only) against the same `npm install`
#              on the host with an empty cache. Target: ≤ 1.2x the host.
#
# Knobs: RUNS=15 (hot path), HOT=0 skips it, INSTALLS=3, BASE=<commit>, AGENT=claude, KEEP=1. Needs root, go, npm and
# the npm registry.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-15}
INSTALLS=${INSTALLS:-3}
AGENT=${AGENT:-claude}
BASE=${BASE:-eba4b5f}
PATH=$PATH:/usr/local/go/bin
declare -A PKGS=([claude]=@anthropic-ai/claude-code [gemini]=@google/gemini-cli [codex]=@openai/codex [opencode]=opencode-ai)
PKG=${PKGS[$AGENT]}

W=$(mktemp -d /var/tmp/paddock-bench-agentinstall.XXXXXX)
chmod 755 "$W"
cleanup() {
	set +e
	cd /
	[[ ${KEEP:-} == 1 ]] && { echo "bench/agentinstall.sh: kept $W" >&2; return; }
	for h in "$W"/home-*; do [[ -d $h ]] && PADDOCK_HOME=$h "$W/new/paddock" rm -f --all >/dev/null 2>&1; done
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
echo "==> building paddock (this tree and $BASE)" >&2
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/new/" ./cmd/...)
mkdir -p "$W/base-src"
(cd "$REPO" && git archive "$BASE" | tar -x -C "$W/base-src")
(cd "$W/base-src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/base/" ./cmd/...)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - s) / 1000000)); }

# Hot path: each binary with its own PADDOCK_HOME, the agent installed once, the sandbox running.
hot() { # NAME
	local name=$1 P=$W/$1/paddock
	export PADDOCK_HOME=$W/home-$name
	mkdir -p "$W/ws-$name/bench"
	cd "$W/ws-$name/bench"
	"$P" run "$AGENT" -- --version >"$W/version-$name" 2>"$W/install-$name.log" || { cat "$W/install-$name.log" >&2; exit 1; }
	for _ in 1 2 3; do "$P" run "$AGENT" -- --version >/dev/null 2>&1; done
	for _ in $(seq "$RUNS"); do ms "$P" run "$AGENT" -- --version; done | median
}
if [[ ${HOT:-1} == 1 ]]; then
	echo "==> hot path: run $AGENT -- --version, $RUNS runs each" >&2
	HOT_BASE=$(hot base)
	HOT_NEW=$(hot new)
	VERSION=$(grep -oE '[0-9]+\.[0-9]+\.[0-9]+' "$W/version-new" | head -1)
else
	HOT_BASE=- HOT_NEW=-
	VERSION=$(npm view "$PKG" version)
fi

# Fresh installs, alternating host and sandbox.
host_install() {
	local d=$W/host-install
	rm -rf "$d" "$W/host-cache"
	mkdir -p "$d"
	echo '{"private": true}' >"$d/package.json"
	(cd "$d" && ms npm install --no-audit --no-fund --no-update-notifier --no-save --foreground-scripts --loglevel=warn \
		--cache "$W/host-cache" "$PKG@$VERSION")
}
box_install() {
	local h=$W/home-install
	rm -rf "$h"
	PADDOCK_HOME=$h ms "$W/new/paddock" agents update "$AGENT"
	[[ -d $h/agents/$AGENT/$VERSION ]] || { echo "bench/agentinstall.sh: the sandboxed install failed" >&2; cat "$h/agents/$AGENT/.log/$VERSION.log" >&2; exit 1; }
	jq -r '.seconds*1000|floor' "$h/agents/$AGENT/.log/$VERSION.json" >>"$W/install-only"
}
echo "==> fresh install of $PKG@$VERSION, $INSTALLS times each" >&2
HOSTS=() BOXES=()
for _ in $(seq "$INSTALLS"); do
	HOSTS+=("$(host_install)")
	BOXES+=("$(box_install)")
done
HOST_MED=$(printf '%s\n' "${HOSTS[@]}" | median)
ONLY=$(tr '\n' ' ' <"$W/install-only")
ONLY_MED=$(median <"$W/install-only")
BOX_MED=$(printf '%s\n' "${BOXES[@]}" | median)
SIG=$(jq -r '"\(.signatures) (npm install \(.npm_seconds|floor) s, signature check \(.signatures_seconds*10|floor/10) s of \(.seconds|floor) s)"' "$W/home-install/agents/$AGENT/.log/$VERSION.json" 2>/dev/null || echo "?")

mkdir -p "$RESULTS"
{
	echo "# Agent installs inside the fence ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "$AGENT $VERSION ($PKG)."
	echo
	echo "| | median | target |"
	echo "|---|---|---|"
	echo "| \`run $AGENT -- --version\`, installed, sandbox running, $BASE (registry asked at each start) | ${HOT_BASE} ms | |"
	echo "| \`run $AGENT -- --version\`, installed, sandbox running, this tree (no registry) | ${HOT_NEW} ms | faster |"
	echo "| fresh \`npm install\` on the host (empty cache), ms: ${HOSTS[*]} | ${HOST_MED} ms | |"
	echo "| fresh install in the install sandbox (\`paddock agents update\`), ms: ${BOXES[*]} | ${BOX_MED} ms | ≤ 1.2x host |"
	echo "| ratio sandbox / host | $(awk -v a="$BOX_MED" -v b="$HOST_MED" 'BEGIN{printf "%.2f", a/b}') | ≤ 1.20 |"
	echo "| the install itself (the install record's time: npm config, sandbox, npm install, signature check, read-only), ms: $ONLY | ${ONLY_MED} ms | |"
	echo "| ratio install itself / host | $(awk -v a="$ONLY_MED" -v b="$HOST_MED" 'BEGIN{printf "%.2f", a/b}') | ≤ 1.20 |"
	echo
	echo "Signatures of the sandboxed install: $SIG"
} | tee "$RESULTS/agentinstall-latest.md"
