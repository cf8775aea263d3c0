#!/usr/bin/env bash
# paddock cp against docker cp (issue 15, "cp"): the same folders and files, in and out.
#
#   bash bench/cp.sh          # builds paddock, measures, writes bench/results/cp-latest.md
#
#   small:  a folder of SMALL_N files of 4 KiB          big: one file of BIG_MB MiB
#   into a sandbox / container, and out of it again, with
#     paddock cp (native backend), paddock --backend docker cp, docker cp (same engine, same image)
#
# Knobs: RUNS=10 WARMUP=2 SMALL_N=2000 BIG_MB=256; QUICK=1 for a few runs. Needs root, hyperfine,
# jq, a static busybox and a running engine (scripts/start-dockerd.sh). Containers run with
# --network none; nothing leaves the machine.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
SMALL_N=${SMALL_N:-2000}
BIG_MB=${BIG_MB:-256}
[[ ${QUICK:-} == 1 ]] && RUNS=3 WARMUP=1 SMALL_N=200 BIG_MB=32
PATH=$PATH:/usr/local/go/bin
for c in hyperfine jq docker go; do command -v $c >/dev/null || { echo "bench/cp.sh: $c is required" >&2; exit 1; }; done
docker info >/dev/null 2>&1 || { echo "bench/cp.sh: no Docker engine (bash scripts/start-dockerd.sh)" >&2; exit 1; }

W=$(mktemp -d /var/tmp/paddock-bench-cp.XXXXXX)
CTR=paddock-bench-cp-$$
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

# One image for the Docker backend and the peer: a static busybox with its tar.
mkdir -p "$W/rootfs"/{bin,proc,sys,dev,tmp,etc,root} "$W/ws/native" "$W/ws/docker"
cp /bin/busybox "$W/rootfs/bin/busybox"
for a in sh true sleep cat ls tar mkdir rm dirname; do ln -sf busybox "$W/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
echo 'root:x:0:' >"$W/rootfs/etc/group"
tar -C "$W/rootfs" -c . | docker import -c 'ENV PATH=/bin' - paddock-bench-cp:latest >/dev/null
export PADDOCK_DOCKER_IMAGE=paddock-bench-cp:latest

# What is copied.
mkdir -p "$W/data/small" "$W/out"
head -c $((SMALL_N * 4096)) /dev/urandom | split -b 4096 -a 5 - "$W/data/small/f"
head -c $((BIG_MB << 20)) /dev/urandom >"$W/data/big"

cd "$W/ws/native"
SBN=$("$W/paddock" run -d shell 2>"$W/run.err" | tail -1) || { cat "$W/run.err" >&2; exit 1; }
cd "$W/ws/docker"
SBD=$("$W/paddock" --backend docker run -d shell 2>"$W/run.err" | tail -1) || { cat "$W/run.err" >&2; exit 1; }
docker run -d --name "$CTR" --network none --init paddock-bench-cp:latest sh -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done' >/dev/null
cd "$W"

declare -A R
hf() { # KEY PREPARE CMD
	local key=$1
	hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --prepare "$2" --export-json "$W/$key.json" "$3" >/dev/null 2>"$W/$key.err" ||
		{ echo "bench/cp.sh: $key failed: $(tail -2 "$W/$key.err")" >&2; R[$key]=nan; return; }
	R[$key]=$(jq -r '.results[0].median * 1000' "$W/$key.json")
}
P="$W/paddock"
for what in small big; do
	echo "==> $what: into the sandbox / container" >&2
	hf "native_in_$what" "$P exec $SBN rm -rf /tmp/$what" "$P cp $W/data/$what $SBN:/tmp/$what"
	hf "docker_in_$what" "$P exec $SBD rm -rf /tmp/$what" "$P cp $W/data/$what $SBD:/tmp/$what"
	hf "peer_in_$what" "docker exec $CTR rm -rf /tmp/$what" "docker cp -q $W/data/$what $CTR:/tmp/$what"
	echo "==> $what: out of it" >&2
	hf "native_out_$what" "rm -rf $W/out/$what" "$P cp $SBN:/tmp/$what $W/out/$what"
	hf "docker_out_$what" "rm -rf $W/out/$what" "$P cp $SBD:/tmp/$what $W/out/$what"
	hf "peer_out_$what" "rm -rf $W/out/$what" "docker cp -q $CTR:/tmp/$what $W/out/$what"
done
cmp "$W/data/big" "$W/out/big" || { echo "bench/cp.sh: the big file came out different" >&2; exit 1; }

mkdir -p "$RESULTS"
MD=$RESULTS/cp-latest.md
row() { # LABEL KIND
	printf '| %s | %.0f ms | %.0f ms | **%.0f ms** | %.2f |\n' "$1" "${R[native_$2]}" "${R[docker_$2]}" "${R[peer_$2]}" \
		"$(awk -v a="${R[native_$2]}" -v b="${R[peer_$2]}" 'BEGIN {print a / b}')"
}
{
	echo "# paddock cp vs docker cp"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $(git -C "$REPO" rev-parse --short HEAD) · engine $(docker version -f '{{.Server.Version}}') · $(nproc) cores · load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "hyperfine -N, median of $RUNS runs after $WARMUP warmups; the destination removed before each run. small: $SMALL_N files of 4 KiB; big: one file of $BIG_MB MiB."
	echo
	echo "| copy | paddock cp (native) | paddock cp (Docker backend) | docker cp | native / docker cp |"
	echo "|---|---|---|---|---|"
	row "small folder, in" in_small
	row "small folder, out" out_small
	row "$BIG_MB MiB file, in" in_big
	row "$BIG_MB MiB file, out" out_big
} >"$MD"
cp "$MD" "$RESULTS/cp-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"
