#!/usr/bin/env bash
# Background sessions (issue 15, "Speed"): paddock attach against tmux attach, and what ten idle
# background sessions cost. (docker attach has no peer figure: it shows nothing of a session's
# screen until the program prints again.)
#
#   bash bench/session.sh        # builds paddock, measures, writes bench/results/session-latest.md
#
#   attach:  ms from `attach` starting until the session's screen is on the terminal (target ≤ 50 ms),
#            paddock attach vs tmux attach
#   idle:    the memory ten sessions add beyond the agents' own: each sandbox's supervisor (which holds
#            the session's terminal and scrollback) before and after its session starts and prints
#            2 MiB (a full scrollback), then idles (target ≤ 2 MiB each); the tmux server's growth for
#            ten such sessions (its default history, 2000 lines)
#
#   docker:  the same ten sessions on the Docker backend (when an engine runs; DOCKER=0 skips): the
#            host process that holds every Docker session of a PADDOCK_HOME exists only for them,
#            so its whole private memory counts, divided by the sessions
#
# Knobs: RUNS=30 SESSIONS=10; QUICK=1 for a few runs. Needs root, tmux, jq and go.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-30}
SESSIONS=${SESSIONS:-10}
[[ ${QUICK:-} == 1 ]] && RUNS=5 SESSIONS=3
PATH=$PATH:/usr/local/go/bin
for c in tmux jq go; do command -v $c >/dev/null || { echo "bench/session.sh: $c is required" >&2; exit 1; }; done

W=$(mktemp -d /var/tmp/paddock-bench-session.XXXXXX)
export PADDOCK_HOME=$W/home
cleanup() {
	set +e
	cd /
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	[[ -n ${DOCKER_OK:-} ]] && docker image rm paddock-bench-session:latest >/dev/null 2>&1
	tmux -S "$W/tmux.sock" kill-server >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/" ./cmd/paddock ./cmd/paddock-oci && go build -o "$W/sessiontool" ./bench/sessiontool)
P=$W/paddock
IDLE='echo screen-marker; head -c 76800 /dev/urandom | base64; echo screen-marker; exec sleep 1000000'
# An idle session whose scrollback is full (it printed 2 MiB; the last MiB is kept): the worst case.
FULL='head -c 1572864 /dev/urandom | base64; exec sleep 1000000'

# --- attach
mkdir -p "$W/ws/attach"
cd "$W/ws/attach"
SB=$("$P" run -d shell -c "$IDLE" 2>/dev/null)
tmux -S "$W/tmux.sock" -f /dev/null new-session -d -s attach -x 100 -y 30 "$IDLE"
sleep 1
med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "==> attach ($RUNS runs each)" >&2
A_PADDOCK=$("$W/sessiontool" screen-marker "$RUNS" "$P" attach "$SB" | med)
A_TMUX=$("$W/sessiontool" screen-marker "$RUNS" tmux -S "$W/tmux.sock" attach -t attach | med)
# --- idle memory: ten sandboxes, each measured before and after its session
# A process's private memory (heap, stacks: RssAnon). Its code is the paddock binary's, shared by
# every supervisor through the page cache, and not a session's cost.
rss() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
sup() { "$P" inspect "$1" | jq -r ".[0].state.supervisor_pid"; }
echo "==> idle memory of $SESSIONS sessions" >&2
before=() names=()
for i in $(seq "$SESSIONS"); do
	mkdir -p "$W/ws/idle$i"
	cd "$W/ws/idle$i"
	n=$("$P" create shell 2>/dev/null | tail -1)
	"$P" start "$n" >/dev/null 2>&1
	names+=("$n")
done
sleep 6 # the supervisors settle (memtrim)
for n in "${names[@]}"; do before+=("$(rss "$(sup "$n")")"); done
for n in "${names[@]}"; do (cd "$W/ws" && "$P" run -d "$n" -c "$FULL" >/dev/null 2>&1); done
sleep 8
DELTAS=()
i=0
for n in "${names[@]}"; do
	DELTAS+=($(($(rss "$(sup "$n")") - before[i])))
	i=$((i + 1))
done
T0=$(rss "$(tmux -S "$W/tmux.sock" display -p '#{pid}')")
for i in $(seq "$SESSIONS"); do tmux -S "$W/tmux.sock" new-session -d -s "idle$i" -x 100 -y 30 "$FULL"; done
sleep 3
T1=$(rss "$(tmux -S "$W/tmux.sock" display -p '#{pid}')")

# --- the Docker backend: one host process holds the sessions
DOCKER_OK= D_TOTAL= D_PER=
if [[ ${DOCKER:-1} == 1 ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	DOCKER_OK=1
	echo "==> idle memory of $SESSIONS Docker sessions" >&2
	mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox "$W/rootfs/bin/busybox"
	for a in sh true sleep cat head base64; do ln -sf busybox "$W/rootfs/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
	echo 'root:x:0:' >"$W/rootfs/etc/group"
	tar -C "$W/rootfs" -c . | docker import -c 'ENV PATH=/bin' - paddock-bench-session:latest >/dev/null
	for i in $(seq "$SESSIONS"); do
		mkdir -p "$W/ws/docker$i"
		(cd "$W/ws/docker$i" && PADDOCK_DOCKER_IMAGE=paddock-bench-session:latest "$P" --backend docker run -d shell -c "$FULL" >/dev/null 2>&1)
	done
	sleep 25 # it settles (memory given back every 10 s)
	HP=$(pgrep -f "__docker-sessions $PADDOCK_HOME\$" | head -1)
	D_TOTAL=$(rss "$HP")
	D_PER=$((D_TOTAL / SESSIONS))
fi

MEAN=$(printf '%s\n' "${DELTAS[@]}" | awk '{s+=$1} END {printf "%.0f", s/NR}')
MAX=$(printf '%s\n' "${DELTAS[@]}" | sort -n | tail -1)
mkdir -p "$RESULTS"
MD=$RESULTS/session-latest.md
{
	echo "# Background sessions: attach, and what idle sessions cost"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $(git -C "$REPO" rev-parse --short HEAD) · tmux $(tmux -V | cut -d' ' -f2) · $(nproc) cores · load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Attach: median of $RUNS runs, ms from the command's start until the session's screen is on its terminal (bench/sessiontool; the session printed 100 KiB before)."
	echo
	echo "| attach | median |"
	echo "|---|---|"
	echo "| paddock attach (target ≤ 50 ms) | **$A_PADDOCK ms** |"
	echo "| tmux attach | $A_TMUX ms |"
	echo
	echo "Idle: $SESSIONS sandboxes, each supervisor's private memory (RssAnon) before its session and 8 s after the session printed 2 MiB, a full scrollback (KiB): ${DELTAS[*]}."
	echo
	echo "| per idle session | KiB |"
	echo "|---|---|"
	echo "| paddock, mean (target ≤ 2048) | **$MEAN** |"
	echo "| paddock, largest | $MAX |"
	echo "| tmux server, mean over $SESSIONS sessions | $(((T1 - T0) / SESSIONS)) |"
	if [[ -n $DOCKER_OK ]]; then
		echo "| Docker backend: its host process, $D_TOTAL KiB in all, per session (target ≤ 2048) | **$D_PER** |"
	fi
} >"$MD"
cp "$MD" "$RESULTS/session-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"
