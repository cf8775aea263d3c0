#!/usr/bin/env bash
# paddock's Docker backend against the docker CLI on the same engine (issue 7, "Speed"):
#
#   bash bench/docker.sh          # builds paddock, measures, writes bench/results/docker-latest.md
#
#   exec:        paddock exec SANDBOX true          vs  docker exec CONTAINER true       (target: no slower)
#   run, reuse:  paddock run shell -c true          vs  docker start C + docker exec C true   (target: <= 1.2x)
#                once with the sandbox running, once stopped before every run (hyperfine --prepare)
#   link mode:   the same for a sandbox whose egress travels over docker exec streams (the way for
#                engines elsewhere: Docker Desktop, Colima, remote; PADDOCK_DOCKER_EGRESS=link), and
#                a 256 MiB plain-HTTP download through the proxy in both modes (nc inside)
#
# Knobs: RUNS=100 WARMUP=5 STOPPED_RUNS=20; QUICK=1 for a few runs. Needs root (or docker group),
# hyperfine, jq, a static busybox and a running engine (bench/run.sh and scripts/start-dockerd.sh
# start one). Containers run with --network none; nothing leaves the machine.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}
STOPPED_RUNS=${STOPPED_RUNS:-20}
[[ ${QUICK:-} == 1 ]] && RUNS=10 WARMUP=2 STOPPED_RUNS=3
PATH=$PATH:/usr/local/go/bin
for c in hyperfine jq docker go; do command -v $c >/dev/null || { echo "bench/docker.sh: $c is required" >&2; exit 1; }; done
docker info >/dev/null 2>&1 || { echo "bench/docker.sh: no Docker engine (bash scripts/start-dockerd.sh)" >&2; exit 1; }

W=$(mktemp -d /var/tmp/paddock-bench-docker.XXXXXX)
CTR=paddock-bench-peer-$$
export PADDOCK_HOME=$W/home
cleanup() {
	set +e
	cd /
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	docker rm -f "$CTR" >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/" ./cmd/paddock ./cmd/paddock-oci)

# One image for both: a static busybox (the docker peer of bench/run.sh).
mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc,root} "$W/ws/bench"
cp /bin/busybox "$W/rootfs/bin/busybox"
for a in sh true sleep cat ls id nc wc; do ln -sf busybox "$W/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
echo 'root:x:0:' >"$W/rootfs/etc/group"
tar -C "$W/rootfs" -c . | docker import -c 'ENV PATH=/bin' - paddock-bench-docker:latest >/dev/null
export PADDOCK_DOCKER_IMAGE=paddock-bench-docker:latest

# The outside world of the download: a server on the host's loopback, reached through the proxy.
(cd "$REPO" && go build -o "$W/egresstool" ./bench/egresstool)
mkdir -p "$PADDOCK_HOME"
"$W/egresstool" "$PADDOCK_HOME" >"$W/port" 2>"$W/srv.log" &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do [[ $(wc -l <"$W/port") == 2 ]] && break; sleep 0.1; done
PLAIN=$(sed -n 2p "$W/port")
echo "bench.test 127.0.0.1" >"$W/hosts"
export PADDOCK_EGRESS_HOSTS=$W/hosts
"$W/paddock" policy allow "bench.test:$PLAIN" 2>/dev/null

mkdir -p "$W/ws/link"
cd "$W/ws/link"
SBL=$(PADDOCK_DOCKER_EGRESS=link "$W/paddock" --backend docker run -d shell 2>"$W/run.err" | tail -1) || { cat "$W/run.err" >&2; exit 1; }
cd "$W/ws/bench"
SB=$("$W/paddock" --backend docker run -d shell 2>"$W/run.err" | tail -1) || { cat "$W/run.err" >&2; exit 1; }
# The peer container as paddock makes its own: no network, an init, the workspace bind-mounted.
docker run -d --name "$CTR" --network none --init -v "$W/ws/bench:$W/ws/bench" -w "$W/ws/bench" \
	paddock-bench-docker:latest sh -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done' >/dev/null

declare -A R
hf() { # KEY RUNS [hyperfine args...] CMD
	local key=$1 runs=$2
	shift 2
	hyperfine -N --style none -w "$WARMUP" -r "$runs" --export-json "$W/$key.json" "$@" >/dev/null 2>"$W/$key.err" ||
		{ echo "bench/docker.sh: $key failed: $(tail -2 "$W/$key.err")" >&2; R[$key]="nan nan nan"; return; }
	R[$key]=$(jq -r '.results[0] | [.median, .mean, .stddev] | map(. * 1000) | @tsv' "$W/$key.json" | tr '\t' ' ')
}
echo "==> exec into a running sandbox / container ($RUNS runs)" >&2
hf paddock_exec "$RUNS" "$W/paddock exec $SB true"
hf docker_exec "$RUNS" "docker exec $CTR true"
echo "==> run, reusing the running sandbox" >&2
hf paddock_run "$RUNS" "$W/paddock run shell -c true"
hf docker_start_exec "$RUNS" "sh -c 'docker start $CTR >/dev/null && docker exec $CTR true'"
hf sh_floor "$RUNS" "sh -c true"
echo "==> run, reusing the stopped sandbox ($STOPPED_RUNS runs, stopped before each)" >&2
hf paddock_run_stopped "$STOPPED_RUNS" --prepare "$W/paddock stop -t 0 $SB" "$W/paddock run shell -c true"
hf docker_start_exec_stopped "$STOPPED_RUNS" --prepare "docker stop -t 0 $CTR" "sh -c 'docker start $CTR >/dev/null && docker exec $CTR true'"

echo "==> link mode: exec, run (running), run (stopped)" >&2
hf link_exec "$RUNS" "$W/paddock exec $SBL true"
cd "$W/ws/link"
hf link_run "$RUNS" "$W/paddock run shell -c true"
hf link_run_stopped "$STOPPED_RUNS" --prepare "$W/paddock stop -t 0 $SBL" "$W/paddock run shell -c true"
cd "$W/ws/bench"
echo "==> 256 MiB through the proxy, socket and link mode" >&2
# MiB/s of one download (nc in the container, the proxy's plain-HTTP side), median of 3.
bulk() {
	local sb=$1 i t0 t1 n
	for i in 1 2 3; do
		t0=$(date +%s%N)
		n=$("$W/paddock" exec "$sb" sh -c "printf 'GET http://bench.test:$PLAIN/bulk?mb=256 HTTP/1.0\r\n\r\n' | nc 127.0.0.1 3128 | wc -c")
		t1=$(date +%s%N)
		((n > 256 << 20)) || { echo "bench/docker.sh: download through $sb got $n bytes" >&2; echo nan; return; }
		awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f\n", 256 / (ns / 1e9)}'
	done | sort -n | sed -n 2p
}
BULK_SOCKET=$(bulk "$SB")
BULK_LINK=$(bulk "$SBL")

med() { echo "${R[$1]}" | cut -d' ' -f1; }
row() { # LABEL KEY CMD
	read -r m mean sd <<<"${R[$2]}"
	printf '| %s | `%s` | **%.1f ms** | %.1f ± %.1f ms |\n' "$1" "$3" "$m" "$mean" "$sd"
}
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" -v f="${3:-0}" 'BEGIN {printf "%.2f", (a) / (b - f)}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r <= t) ? "PASS" : "**MISS**"}'; }
targets() { # EXEC_KEY RUN_KEY RUN_STOPPED_KEY: the issue's targets for one sandbox
	local r1 r2 r3
	r1=$(ratio "$1" docker_exec)
	r2=$(ratio "$2" docker_start_exec)
	r3=$(ratio "$3" docker_start_exec_stopped)
	echo "| target | ratio | |"
	echo "|---|---|---|"
	echo "| paddock exec / docker exec ≤ 1.0 | $r1 | $(verdict "$r1" 1.0) |"
	echo "| paddock run (running) / docker start + exec ≤ 1.2 | $r2 | $(verdict "$r2" 1.2) |"
	echo "| paddock run (stopped) / docker start + exec ≤ 1.2 | $r3 | $(verdict "$r3" 1.2) |"
}
mkdir -p "$RESULTS"
MD=$RESULTS/docker-latest.md
{
	echo "# paddock on the Docker backend vs the docker CLI"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $(git -C "$REPO" rev-parse --short HEAD) · engine $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})') · docker CLI $(docker version -f '{{.Client.Version}}') · $(nproc) cores · load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "hyperfine -N, median of $RUNS runs ($STOPPED_RUNS for the stopped case) after $WARMUP warmups. The docker peer runs through \`sh -c\` where it is two commands (sh alone: $(printf '%.1f' "$(med sh_floor)") ms)."
	echo
	echo "| what | command | median | mean ± σ |"
	echo "|---|---|---|---|"
	row "paddock exec" paddock_exec "paddock exec SANDBOX true"
	row "docker exec" docker_exec "docker exec CONTAINER true"
	row "paddock run, running sandbox" paddock_run "paddock run shell -c true"
	row "docker start + exec, running container" docker_start_exec "sh -c 'docker start C && docker exec C true'"
	row "paddock run, stopped sandbox" paddock_run_stopped "paddock run shell -c true"
	row "docker start + exec, stopped container" docker_start_exec_stopped "sh -c 'docker start C && docker exec C true'"
	echo
	targets paddock_exec paddock_run paddock_run_stopped
	echo
	echo "Link mode (egress over \`docker exec\` streams, the way for engines that are not on this host; here the same engine):"
	echo
	echo "| what | command | median | mean ± σ |"
	echo "|---|---|---|---|"
	row "paddock exec, link mode" link_exec "paddock exec SANDBOX true"
	row "paddock run, running, link mode" link_run "paddock run shell -c true"
	row "paddock run, stopped, link mode" link_run_stopped "paddock run shell -c true"
	echo
	targets link_exec link_run link_run_stopped
	echo
	echo "A 256 MiB plain-HTTP download through the proxy (nc inside, median of 3, the exec included): socket mode **$BULK_SOCKET MiB/s**, link mode **$BULK_LINK MiB/s**."
} >"$MD"
cp "$MD" "$RESULTS/docker-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"
