#!/usr/bin/env bash
# Published ports (issue 15, "Speed"): paddock run -p against a direct loopback connection.
#
#   bash bench/ports.sh          # builds paddock, measures, writes bench/results/ports-latest.md
#
#   bulk: MiB/s of a 1000 MiB download from a server inside the sandbox through its published port,
#         and from the same server on the host's loopback directly (target: ≥ 0.9 of direct)
#   conn: ms per connection (connect, one byte there and back, close), same two ways
#         (target: ≤ 0.3 ms added)
#   The same through the Docker backend's -p when an engine runs (DOCKER=0 to skip): its
#   container keeps --network none; a static busybox image, porttool from the workspace.
#
# Knobs: MB=1000 (at most 1020) REPS=5 CONNS=500; QUICK=1 for a few runs. Nothing leaves 127.0.0.1.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
MB=${MB:-1000}
REPS=${REPS:-5}
CONNS=${CONNS:-500}
[[ ${QUICK:-} == 1 ]] && MB=256 REPS=3 CONNS=100
PATH=$PATH:/usr/local/go/bin
W=$(mktemp -d /var/tmp/paddock-bench-ports.XXXXXX)
export PADDOCK_HOME=$W/home
HOSTSRV=
cleanup() {
	set +e
	cd /
	[[ -n $HOSTSRV ]] && kill "$HOSTSRV" 2>/dev/null
	[[ -n ${RELAY:-} ]] && kill "$RELAY" 2>/dev/null
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	[[ -n ${DOCKER_OK:-} ]] && docker image rm paddock-bench-ports:latest >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
mkdir -p "$W/ws"
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/" ./cmd/paddock ./cmd/paddock-oci && CGO_ENABLED=0 go build -o "$W/ws/porttool" ./bench/porttool)
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free)
DP=$(free)
cd "$W/ws"
"$W/paddock" run -d ${RUNFLAGS:-} -p "$HP:7000" shell -c "exec $W/ws/porttool serve 7000" >/dev/null 2>&1
"$W/ws/porttool" serve "$DP" &
HOSTSRV=$!
# The floor for any relay: the same kernel splice between two loopback connections on the host,
# in a process of its own, no sandbox.
RP=$(free)
"$W/ws/porttool" relay "$RP" "127.0.0.1:$DP" &
RELAY=$!
for _ in $(seq 100); do "$W/ws/porttool" conn "127.0.0.1:$HP" 1 >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_OK=
if [[ ${DOCKER:-1} == 1 ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	DOCKER_OK=1
	mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox "$W/rootfs/bin/busybox"
	for a in sh true sleep cat; do ln -sf busybox "$W/rootfs/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
	echo 'root:x:0:' >"$W/rootfs/etc/group"
	tar -C "$W/rootfs" -c . | docker import -c 'ENV PATH=/bin' - paddock-bench-ports:latest >/dev/null
	KP=$(free)
	mkdir -p "$W/dws"
	cp "$W/ws/porttool" "$W/dws/"
	(cd "$W/dws" && PADDOCK_DOCKER_IMAGE=paddock-bench-ports:latest "$W/paddock" --backend docker run -d -p "$KP:7000" shell -c "exec $W/dws/porttool serve 7000" >/dev/null)
	for _ in $(seq 100); do "$W/ws/porttool" conn "127.0.0.1:$KP" 1 >/dev/null 2>&1 && break; sleep 0.1; done
fi
# The machine's busy CPU time (user, nice, system, irq, softirq; ms) around each bulk run: what
# each way costs per GiB, whatever the number of cores.
busy() { awk '/^cpu / {print ($2 + $3 + $4 + $7 + $8) * 1000 / '"$(getconf CLK_TCK)"'}' /proc/stat; }
cpu_per_gib() { awk -v a="$1" -v b="$2" -v mb="$MB" -v r="$REPS" 'BEGIN {printf "%.0f", (b - a) * 1024 / (mb * r)}'; }
echo "==> bulk ($MB MiB x $REPS)" >&2
c0=$(busy)
B_DIRECT=$("$W/ws/porttool" bulk "127.0.0.1:$DP" "$MB" "$REPS")
c1=$(busy)
B_PORT=$("$W/ws/porttool" bulk "127.0.0.1:$HP" "$MB" "$REPS")
c2=$(busy)
G_DIRECT=$(cpu_per_gib "$c0" "$c1") G_PORT=$(cpu_per_gib "$c1" "$c2")
B_RELAY=$("$W/ws/porttool" bulk "127.0.0.1:$RP" "$MB" "$REPS")
G_RELAY=$(cpu_per_gib "$c2" "$(busy)")
c2=$(busy)
if [[ -n $DOCKER_OK ]]; then
	B_DOCKER=$("$W/ws/porttool" bulk "127.0.0.1:$KP" "$MB" "$REPS")
	G_DOCKER=$(cpu_per_gib "$c2" "$(busy)")
fi
echo "==> connections ($CONNS)" >&2
C_DIRECT=$("$W/ws/porttool" conn "127.0.0.1:$DP" "$CONNS")
C_PORT=$("$W/ws/porttool" conn "127.0.0.1:$HP" "$CONNS")
C_RELAY=$("$W/ws/porttool" conn "127.0.0.1:$RP" "$CONNS")
[[ -n $DOCKER_OK ]] && C_DOCKER=$("$W/ws/porttool" conn "127.0.0.1:$KP" "$CONNS")
mkdir -p "$RESULTS"
MD=$RESULTS/ports-latest.md
{
	echo "# Published ports vs a direct loopback connection"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $(git -C "$REPO" rev-parse --short HEAD) · $(nproc) cores · load $(cut -d' ' -f1-3 /proc/loadavg) · $(id -un)"
	echo
	echo "bench/porttool on both ends; the sandbox's server on its loopback behind \`paddock run -p\`, the same server on the host's loopback for the direct figures. Medians."
	echo
	echo "| | direct | through -p | ratio / added | target |"
	echo "|---|---|---|---|---|"
	awk -v d="$B_DIRECT" -v p="$B_PORT" -v mb="$MB" 'BEGIN {printf "| bulk, %d MiB download | %d MiB/s | %d MiB/s | **%.2f** | ≥ 0.9 |\n", mb, d, p, p / d}'
	awk -v d="$C_DIRECT" -v p="$C_PORT" 'BEGIN {printf "| per connection (connect, 1-byte round trip, close) | %.3f ms | %.3f ms | **+%.3f ms** | ≤ 0.3 ms |\n", d, p, p - d}'
	echo "| CPU time per GiB moved (all processes and the kernel) | $G_DIRECT ms | $G_PORT ms | $(awk -v d="$G_DIRECT" -v p="$G_PORT" 'BEGIN {printf "%.2fx", p / d}') | |"
	echo
	echo "The floor for any relay (a process splicing between two loopback connections on the host, no sandbox: \`porttool relay\`), against the same direct figures:"
	echo
	echo "| | direct | through the plain relay | ratio / added |"
	echo "|---|---|---|---|"
	awk -v d="$B_DIRECT" -v p="$B_RELAY" -v mb="$MB" 'BEGIN {printf "| bulk, %d MiB download | %d MiB/s | %d MiB/s | %.2f |\n", mb, d, p, p / d}'
	awk -v d="$C_DIRECT" -v p="$C_RELAY" 'BEGIN {printf "| per connection | %.3f ms | %.3f ms | +%.3f ms |\n", d, p, p - d}'
	echo "| CPU time per GiB moved | $G_DIRECT ms | $G_RELAY ms | $(awk -v d="$G_DIRECT" -v p="$G_RELAY" 'BEGIN {printf "%.2fx", p / d}') |"
	if [[ -n $DOCKER_OK ]]; then
		echo
		echo "Docker backend (\`paddock --backend docker run -p\`, the container with --network none):"
		echo
		echo "| | direct | through -p | ratio / added | target |"
		echo "|---|---|---|---|---|"
		awk -v d="$B_DIRECT" -v p="$B_DOCKER" -v mb="$MB" 'BEGIN {printf "| bulk, %d MiB download | %d MiB/s | %d MiB/s | **%.2f** | ≥ 0.9 |\n", mb, d, p, p / d}'
		awk -v d="$C_DIRECT" -v p="$C_DOCKER" 'BEGIN {printf "| per connection (connect, 1-byte round trip, close) | %.3f ms | %.3f ms | **+%.3f ms** | ≤ 0.3 ms |\n", d, p, p - d}'
		echo "| CPU time per GiB moved (all processes and the kernel) | $G_DIRECT ms | $G_DOCKER ms | $(awk -v d="$G_DIRECT" -v p="$G_DOCKER" 'BEGIN {printf "%.2fx", p / d}') | |"
	fi
} >"$MD"
cp "$MD" "$RESULTS/ports-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"
