#!/usr/bin/env bash
# A real agent session through paddock against the same agent on the host (issue 8, "Speed"):
#
#   bash bench/agents.sh        # builds paddock, installs Claude Code, measures, writes bench/results/agents-latest.md
#
#   host:     claude -p PROMPT, run directly on the host against a loopback stand-in of the
#             Anthropic API (internal/agenttest), configured as paddock configures it
#   paddock:  paddock run claude -p PROMPT in the sandbox for the folder (running, reused), the
#             stand-in reached through paddock's egress proxy with the key injected
#             (`paddock secret set anthropic --endpoint URL`)
#   target:   paddock ≤ 1.2 × host. Also shown: the same with the sandbox stopped before each run.
#
# Knobs: RUNS=20 WARMUP=3 STOPPED_RUNS=8; QUICK=1 for a few runs. Needs root, hyperfine, jq, npm
# (Claude Code is installed from the npm registry). Nothing leaves the machine: the stand-in
# listens on 127.0.0.1.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
STOPPED_RUNS=${STOPPED_RUNS:-8}
[[ ${QUICK:-} == 1 ]] && RUNS=4 WARMUP=1 STOPPED_RUNS=2
PATH=$PATH:/usr/local/go/bin
for c in hyperfine jq go npm; do command -v $c >/dev/null || { echo "bench/agents.sh: $c is required" >&2; exit 1; }; done

W=$(mktemp -d /var/tmp/paddock-bench-agents.XXXXXX)
chmod 755 "$W"
export PADDOCK_HOME=$W/home
STANDIN_PID=
cleanup() {
	set +e
	cd /
	[[ -n $STANDIN_PID ]] && kill "$STANDIN_PID" 2>/dev/null
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/paddock" ./cmd/paddock &&
	go build -o "$W/standin" ./internal/agenttest/standin)
P=$W/paddock
REPLY=PADDOCK-BENCH-REPLY
PROMPT="say the word"
KEY=sk-ant-bench-$$-$RANDOM

"$W/standin" -api anthropic -reply "$REPLY" >"$W/standin.url" 2>"$W/standin.log" &
STANDIN_PID=$!
for _ in $(seq 50); do [[ -s $W/standin.url ]] && break; sleep 0.1; done
URL=$(head -1 "$W/standin.url")
[[ $URL == http://127.0.0.1:* ]] || { echo "bench/agents.sh: the stand-in did not start" >&2; exit 1; }

mkdir -p "$W/ws/bench"
cd "$W/ws/bench"
echo "==> installing Claude Code (npm) and seeding its configuration" >&2
"$P" run claude -- --version >"$W/version" 2>"$W/install.log" || { cat "$W/install.log" >&2; exit 1; }
VERSION=$(head -1 "$W/version")
BIN=$(ls -d "$PADDOCK_HOME"/agents/claude/*/node_modules/.bin/claude | head -1)
SB=$("$P" ls -q | head -1)

# The host run uses a copy of the configuration paddock seeded, and the agent's environment.
HOSTCFG=$W/host-claude
cp -a "$PADDOCK_HOME/volumes/paddock-claude-data/claude" "$HOSTCFG"
HOSTENV=(HOME="$W/host-home" CLAUDE_CONFIG_DIR="$HOSTCFG" ANTHROPIC_BASE_URL="$URL" ANTHROPIC_API_KEY="$KEY"
	IS_SANDBOX=1 DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1
	CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1)
mkdir -p "$W/host-home"
# jq drops the apiKeyHelper: on the host the key comes from ANTHROPIC_API_KEY, as a user runs it.
jq 'del(.apiKeyHelper)' "$HOSTCFG/settings.json" >"$HOSTCFG/s.json" && mv "$HOSTCFG/s.json" "$HOSTCFG/settings.json"
printf '#!/bin/sh\nexec env %s %q --dangerously-skip-permissions -p %q\n' "$(printf '%q ' "${HOSTENV[@]}")" "$BIN" "$PROMPT" >"$W/host.sh"
chmod +x "$W/host.sh"
out=$("$W/host.sh" 2>&1) || true
[[ $out == "$REPLY" ]] || { echo "bench/agents.sh: claude on the host printed: $out" >&2; exit 1; }

declare -A R
hf() { # KEY RUNS [hyperfine args...] CMD
	local key=$1 runs=$2
	shift 2
	hyperfine -N --style none -w "$WARMUP" -r "$runs" --export-json "$W/$key.json" "$@" >/dev/null 2>"$W/$key.err" ||
		{ echo "bench/agents.sh: $key failed: $(tail -3 "$W/$key.err")" >&2; R[$key]="nan nan nan"; return; }
	R[$key]=$(jq -r '.results[0] | [.median, .mean, .stddev] | map(. * 1000) | @tsv' "$W/$key.json" | tr '\t' ' ')
}
echo "==> claude -p on the host ($RUNS runs)" >&2
hf host "$RUNS" "$W/host.sh"

PADDOCK_OK=0
NOTE=""
HELP=$("$P" secret set --help 2>&1 || true)
if [[ $HELP == *--endpoint* ]]; then
	printf %s "$KEY" | "$P" secret set anthropic --endpoint "$URL" 2>>"$W/install.log"
	"$P" stop "$SB" >/dev/null 2>&1 || true # the next start applies the endpoint's policy
	out=$("$P" run claude -p "$PROMPT" 2>"$W/paddock.err") || true
	if [[ $out == "$REPLY" ]] && grep -q "key=\"$KEY\"" "$W/standin.log"; then
		PADDOCK_OK=1
	else
		NOTE="paddock run claude -p printed \`$out\` ($(tail -1 "$W/paddock.err"))"
	fi
else
	NOTE="this paddock has no \`secret set --endpoint\` (the egress proxy's key injection is not there yet): host baseline only"
fi
if ((PADDOCK_OK)); then
	echo "==> paddock run claude -p, sandbox running ($RUNS runs)" >&2
	hf paddock "$RUNS" "$P run claude -p '$PROMPT'"
	echo "==> paddock run claude -p, sandbox stopped before each run ($STOPPED_RUNS runs)" >&2
	hf paddock_stopped "$STOPPED_RUNS" --prepare "$P stop -t 0 $SB" "$P run claude -p '$PROMPT'"
fi

med() { echo "${R[$1]:-nan}" | cut -d' ' -f1; }
row() { # LABEL KEY CMD
	read -r m mean sd <<<"${R[$2]:-nan nan nan}"
	printf '| %s | `%s` | **%.0f ms** | %.0f ± %.0f ms |\n' "$1" "$3" "$m" "$mean" "$sd"
}
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r <= t) ? "PASS" : "**MISS**"}'; }
mkdir -p "$RESULTS"
MD=$RESULTS/agents-latest.md
{
	echo "# A Claude Code session through paddock vs on the host (issue 8)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, Linux $(uname -r), Claude Code $VERSION; stand-in: $URL (loopback);"
	echo "median of $RUNS runs ($STOPPED_RUNS with the sandbox stopped) after $WARMUP warm-ups, hyperfine."
	echo
	echo "| what | command | median | mean ± sd |"
	echo "|---|---|---|---|"
	row "on the host" host "claude --dangerously-skip-permissions -p '$PROMPT'"
	if ((PADDOCK_OK)); then
		row "paddock, sandbox running" paddock "paddock run claude -p '$PROMPT'"
		row "paddock, sandbox stopped" paddock_stopped "paddock run claude -p '$PROMPT'"
		echo
		r=$(ratio paddock host)
		echo "paddock / host (sandbox running): **${r}×** (target ≤ 1.2×): $(verdict "$r" 1.2)."
		echo "With a start of the sandbox in each run: $(ratio paddock_stopped host)×."
	else
		echo
		echo "paddock: not measured — $NOTE."
	fi
} >"$MD"
cat "$MD"
