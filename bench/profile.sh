#!/usr/bin/env bash
# Where the time of a paddock command goes. Records every system call on the machine with
# `perf trace record -a` (tracepoints: far less overhead than `strace -f`, and it follows the detached
# supervisor and the sandbox's init too), keeps the processes and threads that descend from the
# command (plus the running sandbox's supervisor and init), and prints a timeline: each exec and exit,
# and each system call that took at least THRESH_MS (default 0.3), except the ones that only wait
# (futex, epoll_pwait, nanosleep, wait4, read, recvmsg, ...). Needs root and perf (Debian: linux-perf).
#
#   bash bench/profile.sh                  # first run in a new folder, run and exec into it
#   bash bench/profile.sh -- run -d shell  # any paddock command line, in a new folder
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
THRESH_MS=${THRESH_MS:-0.3}
[[ $(id -u) == 0 ]] || {
	echo "profile.sh: needs root (perf trace record -a)" >&2
	exit 1
}
command -v perf >/dev/null || {
	echo "profile.sh: needs perf (apt-get install linux-perf)" >&2
	exit 1
}

DIR=$(mktemp -d /var/tmp/paddock-profile.XXXXXX)
export PADDOCK_HOME=$DIR/home
PADDOCK=$DIR/paddock
cleanup() {
	set +e
	cd /
	[[ -x $PADDOCK ]] && "$PADDOCK" rm -f --all >/dev/null 2>&1
	rm -rf --one-file-system "$DIR"
}
trap cleanup EXIT
# The README's build, as in bench/run.sh.
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$(dirname "$PADDOCK")/" ./cmd/paddock ./cmd/paddock-oci)

# timeline LABEL SANDBOX-OR-EMPTY CMD...
timeline() {
	local label=$1 sb=$2 seed="" p
	shift 2
	if [[ -n $sb ]]; then
		for p in $("$PADDOCK" inspect "$sb" | jq -r '.[0].state | .supervisor_pid, .init_pid'); do
			seed+=" $(ls /proc/"$p"/task | tr '\n' ' ')"
		done
	fi
	echo "== $label: $*"
	# Forks, with the host's pids (inside the sandbox's pid namespace, clone returns other numbers).
	perf record -q -a -e sched:sched_process_fork -o "$DIR/forks.data" >/dev/null 2>&1 &
	local rec=$!
	sleep 0.5
	perf trace record -q -a -o "$DIR/perf.data" -- "$@" >/dev/null 2>&1 || true
	kill -INT "$rec"
	wait "$rec" || true
	perf trace -i "$DIR/perf.data" -o "$DIR/trace.txt" 2>/dev/null || true
	perf script -i "$DIR/forks.data" -F trace 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "pid") p = kv[2]; if (kv[1] == "child_pid") print p, kv[2] } }' >"$DIR/forks.txt"
	awk -v bin="$(basename "$PADDOCK")" -v seed="$seed" -v thresh="$THRESH_MS" -v forks="$DIR/forks.txt" '
	BEGIN {
		n = split(seed, s, " "); for (i = 1; i <= n; i++) keep[s[i]] = 1
		while ((getline line < forks) > 0) { split(line, f, " "); nf++; fp[nf] = f[1]; fc[nf] = f[2] }
	}
	function follow(  i, more) { do { more = 0; for (i = 1; i <= nf; i++) if (keep[fp[i]] && !keep[fc[i]]) { keep[fc[i]] = 1; more = 1 } } while (more) }
	# "  12.345 ( 0.123 ms): comm/pid call(args) = ret", and for a call that other lines interrupted,
	# "  12.345 ( 0.123 ms): comm/pid  ... [continued]: call()) = ret" (start time, duration).
	{
		if (!match($0, /\): [^ ]+\/[0-9]+ /)) next
		who = substr($0, RSTART + 3, RLENGTH - 4); pid = who; sub(/.*\//, "", pid); comm = who; sub(/\/[0-9]+$/, "", comm)
		t = $1 + 0; dur = ""; if (match($0, /\( *[0-9.]+ ms\)/)) { dur = substr($0, RSTART + 1, RLENGTH - 5) + 0 }
		rest = substr($0, index($0, who) + length(who) + 1); sub(/^ +/, "", rest)
		cont = (rest ~ /^\.\.\./); name = rest; if (cont) sub(/.*continued\]: /, "", name); sub(/\(.*/, "", name)
	}
	t0 == "" && name == "execve" && comm == bin { t0 = t; keep[pid] = 1; follow() }
	t0 == "" || !keep[pid] { next }
	# an exec shows up under its new name on the next line of the same process
	(pid in pendt) { printf "%+9.2f ms  %-24s exec\n", pendt[pid] - t0, who; delete pendt[pid] }
	name == "execve" && !cont { pendt[pid] = t; next }
	name == "exit_group" { printf "%+9.2f ms  %-24s exit\n", t - t0, who; next }
	name ~ /^(futex|epoll_pwait|epoll_wait|nanosleep|clock_nanosleep|wait4|waitid|read|recvmsg|recvfrom|accept4|ppoll|pselect6|poll|select|rt_sigsuspend|pause|execve)$/ { next }
	dur != "" && dur >= thresh { printf "%+9.2f ms  %-24s %s took %.2f ms\n", t - t0, who, name, dur }' "$DIR/trace.txt" | sort -g -s
	echo
}

if [[ ${1:-} == -- ]]; then
	shift
	mkdir -p "$DIR/ws/profile"
	cd "$DIR/ws/profile"
	timeline "custom" "" "$PADDOCK" "$@"
	exit 0
fi
mkdir -p "$DIR/ws/profile-first"
cd "$DIR/ws/profile-first"
timeline "first run in a new folder" "" "$PADDOCK" run shell -c true
timeline "run on the running sandbox" shell-profile-first "$PADDOCK" run shell -c true
timeline "exec into the running sandbox" shell-profile-first "$PADDOCK" exec shell-profile-first true
