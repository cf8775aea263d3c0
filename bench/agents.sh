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
# Knobs: RUNS=20 WARMUP=3 STOPPED_RUNS=8; QUICK=1 for a few runs; KEEP=1 keeps the scratch folder. Needs root, jq, npm
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
for c in jq go npm; do command -v $c >/dev/null || { echo "bench/agents.sh: $c is required" >&2; exit 1; }; done

W=$(mktemp -d /var/tmp/paddock-bench-agents.XXXXXX)
chmod 755 "$W"
export PADDOCK_HOME=$W/home
STANDIN_PID=
cleanup() {
	set +e
	cd /
	[[ ${KEEP:-} == 1 ]] && { echo "bench/agents.sh: kept $W (stand-in pid $STANDIN_PID)" >&2; return; }
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
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
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

# Runs alternate between the peers (host, paddock, host, ...), so that the load of a busy machine
# weighs on both alike; each run's wall time is taken around the whole command.
ms() { # CMD... -> milliseconds of one run, output discarded; fails when the reply is missing
	local a b out
	a=$(date +%s%N)
	out=$("$@" 2>/dev/null) || true
	b=$(date +%s%N)
	[[ $out == *"$REPLY"* ]] || { echo "bench/agents.sh: no reply from: $*" >&2; return 1; }
	echo $(((b - a) / 1000000))
}
stats() { # FILE -> "median mean sd"
	sort -n "$1" | awk '{v[NR]=$1; s+=$1; q+=$1*$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; mean=s/NR; sd=sqrt(q/NR-mean*mean); printf "%s %s %s", m, mean, sd}'
}
declare -A R

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
for _ in $(seq "$WARMUP"); do
	ms "$W/host.sh" >/dev/null
	((PADDOCK_OK)) && ms "$P" run claude -p "$PROMPT" >/dev/null
done
echo "==> claude -p on the host and through paddock, alternating ($RUNS runs each)" >&2
: >"$W/host.ms" >"$W/paddock.ms" >"$W/stopped.ms"
for _ in $(seq "$RUNS"); do
	ms "$W/host.sh" >>"$W/host.ms"
	((PADDOCK_OK)) && ms "$P" run claude -p "$PROMPT" >>"$W/paddock.ms"
done
R[host]=$(stats "$W/host.ms")
if ((PADDOCK_OK)); then
	R[paddock]=$(stats "$W/paddock.ms")
	echo "==> paddock run claude -p with the sandbox stopped before each run ($STOPPED_RUNS runs)" >&2
	for _ in $(seq "$STOPPED_RUNS"); do
		"$P" stop -t 0 "$SB" >/dev/null 2>&1
		ms "$P" run claude -p "$PROMPT" >>"$W/stopped.ms"
	done
	R[paddock_stopped]=$(stats "$W/stopped.ms")
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
	echo "median of $RUNS runs each, host and paddock alternating ($STOPPED_RUNS with the sandbox stopped), after $WARMUP warm-ups; load average before: $LOAD."
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
