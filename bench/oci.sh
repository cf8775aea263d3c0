#!/usr/bin/env bash
# paddock OCI template benchmark (issue 3, "Speed"): a Debian image (mmdebstrap minbase + sudo,
# the tests' image, cached in /var/cache/paddock-test) imported into a fresh PADDOCK_HOME.
#
#   sudo bash bench/oci.sh       # writes bench/results/oci-latest.md (+ raw/oci-*) and prints it
#
# 1. `paddock run -t IMAGE shell -c true` in a new folder, image cached (target: median <= 60 ms)
# 2. unpacking a cached layer (the image's one uncompressed layer, in the page cache) with
#    `paddock template import` vs `tar -x` of the same tar (target: at least 0.8 of tar's speed)
# 3. disk of 10 sandboxes of the image, started, before they write: du of PADDOCK_HOME
#    (target: image + 10% in total, i.e. <= 110 MB for a 100 MB image)
#
# Knobs: RUNS=40 WARMUP=3 (latency), UNPACK_RUNS=7, PADDOCK=path (a built binary, paddock-oci beside
# it; else both built here),
# BENCH_DIR=/var/tmp/... (scratch, removed at the end unless KEEP=1). Run as root (root mode; the
# unpack comparison drops no caches: both read the same tar from the page cache).
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RAW=$RESULTS/raw
RUNS=${RUNS:-40}
WARMUP=${WARMUP:-3}
UNPACK_RUNS=${UNPACK_RUNS:-7}
[[ ${QUICK:-} == 1 ]] && RUNS=10 WARMUP=1 UNPACK_RUNS=2
[[ $(id -u) == 0 ]] || { echo "bench/oci.sh: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine jq >/dev/null
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/paddock-oci-bench.XXXXXX)}
mkdir -p "$BENCH_DIR" "$RAW"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd -P)
cleanup() {
	set +e
	cd /
	for h in "$BENCH_DIR"/home*; do [[ -d $h ]] && PADDOCK_HOME=$h "$PADDOCK" rm -f --all >/dev/null 2>&1; done
	[[ ${KEEP:-} == 1 ]] || rm -rf --one-file-system "$BENCH_DIR"
}
trap cleanup EXIT
if [[ -z ${PADDOCK:-} ]]; then
	log "building paddock"
	PADDOCK=$BENCH_DIR/paddock
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BENCH_DIR/" ./cmd/paddock ./cmd/paddock-oci)
fi

# The image: the tests' Debian rootfs (built once by mmdebstrap, then cached).
CACHE=/var/cache/paddock-test
ROOTFS=$CACHE/debian-bookworm-sudo-$(go env GOARCH 2>/dev/null || dpkg --print-architecture).tar.gz
if [[ ! -f $ROOTFS ]]; then
	log "building the Debian rootfs with mmdebstrap (once)"
	mkdir -p "$CACHE"
	mmdebstrap --quiet --variant=minbase --include=sudo --mode=root bookworm "$CACHE/.tmp-rootfs.tar" http://deb.debian.org/debian
	gzip -1 -c "$CACHE/.tmp-rootfs.tar" >"$ROOTFS.tmp" && mv "$ROOTFS.tmp" "$ROOTFS"
	rm -f "$CACHE/.tmp-rootfs.tar"
fi
LAYER=$BENCH_DIR/layer.tar
gzip -dc "$ROOTFS" >"$LAYER"
LAYER_MB=$(($(stat -c %s "$LAYER") / 1000000))
IMG=bench-debian:1

# Other work on this machine (2 CPUs shared with other jobs) inflates every figure: wait up to
# QUIET_WAIT s (default 300) for the CPUs and the disk to be less than QUIET_BUSY % (default 30) busy, and say
# what was seen.
QUIET_WAIT=${QUIET_WAIT:-300}
QUIET_BUSY=${QUIET_BUSY:-30}
DISK_DEV=$(basename "$(df --output=source "$BENCH_DIR" | tail -1)")
disk_ticks() { awk -v d="$DISK_DEV" '$3 == d {print $13; f=1} END {if (!f) print 0}' /proc/diskstats; }
# busy prints "CPU% DISK%" over 1 s (the disk's share of time with requests in flight).
busy() {
	local a b total=0 idle i da db
	read -r -a a < <(head -1 /proc/stat)
	da=$(disk_ticks)
	sleep 1
	read -r -a b < <(head -1 /proc/stat)
	db=$(disk_ticks)
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	idle=$((b[4] - a[4] + b[5] - a[5]))
	echo "$(((total - idle) * 100 / (total > 0 ? total : 1))) $(((db - da) / 10))"
}
LOADNOTES=""
quiet() {
	local cpu disk waited=0
	read -r cpu disk < <(busy)
	while (((cpu >= QUIET_BUSY || disk >= QUIET_BUSY) && waited < QUIET_WAIT)); do
		sleep 4
		waited=$((waited + 5))
		read -r cpu disk < <(busy)
	done
	LOADNOTES+="$1: others kept the CPU ${cpu}% and the disk ${disk}% busy after waiting ${waited}s (load $(cut -d' ' -f1-3 /proc/loadavg)). "
}

# --- 1. latency: run -t IMAGE shell -c true in a new folder each time
quiet "latency"
log "run -t $IMG shell -c true, a new folder each run ($RUNS runs + $WARMUP warmup)"
export PADDOCK_HOME=$BENCH_DIR/home-lat
"$PADDOCK" template import --name "$IMG" "$ROOTFS" >/dev/null 2>&1
PREP="bash -c 'PADDOCK_HOME=$PADDOCK_HOME $PADDOCK rm -f --all >/dev/null 2>&1; rm -rf $BENCH_DIR/ws; mkdir -p $BENCH_DIR/ws; ln -sfn \$(mktemp -d $BENCH_DIR/ws/w.XXXXXX) $BENCH_DIR/current'"
hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --prepare "$PREP" --export-json "$RAW/oci-run.json" \
	"$PADDOCK run -t $IMG -w $BENCH_DIR/current shell -c true" >/dev/null
RUN_MED=$(jq -r '.results[0].median * 1000 | . * 10 | round / 10' "$RAW/oci-run.json")
RUN_MEAN=$(jq -r '.results[0].mean * 1000 | . * 10 | round / 10' "$RAW/oci-run.json")
RUN_MIN=$(jq -r '.results[0].min * 1000 | . * 10 | round / 10' "$RAW/oci-run.json")
# The same for the host template, side by side.
hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --prepare "$PREP" --export-json "$RAW/oci-run-host.json" \
	"$PADDOCK run -w $BENCH_DIR/current shell -c true" >/dev/null
HOST_MED=$(jq -r '.results[0].median * 1000 | . * 10 | round / 10' "$RAW/oci-run-host.json")
# Sanity: one sandbox per run (the symlink resolved to a new folder each time).
"$PADDOCK" rm -f --all >/dev/null 2>&1

# --- 2. unpacking: paddock's extractor vs tar -x, the same uncompressed layer from the page cache
quiet "unpacking"
log "unpacking a ${LAYER_MB} MB layer: paddock template import vs tar -x ($UNPACK_RUNS runs each)"
cat "$LAYER" >/dev/null
export PADDOCK_HOME=$BENCH_DIR/home-unpack
hyperfine -N --style none -w 1 -r "$UNPACK_RUNS" \
	--prepare "bash -c 'rm -rf $BENCH_DIR/home-unpack $BENCH_DIR/tarx; mkdir -p $BENCH_DIR/tarx; sync'" \
	--export-json "$RAW/oci-unpack.json" \
	"$PADDOCK template import --name unpack:1 $LAYER" \
	"tar --numeric-owner -xpf $LAYER -C $BENCH_DIR/tarx" \
	"bash -c 'tar --numeric-owner -xpf $LAYER -C $BENCH_DIR/tarx && sync -f $BENCH_DIR/tarx'" >/dev/null
P_MED=$(jq -r '.results[0].median' "$RAW/oci-unpack.json")
T_MED=$(jq -r '.results[1].median' "$RAW/oci-unpack.json")
TS_MED=$(jq -r '.results[2].median' "$RAW/oci-unpack.json")
RATIO=$(awk -v p="$P_MED" -v t="$T_MED" 'BEGIN {printf "%.2f", t / p}')
RATIO_SYNC=$(awk -v p="$P_MED" -v t="$TS_MED" 'BEGIN {printf "%.2f", t / p}')
ms() { awk -v s="$1" 'BEGIN {printf "%.0f ms", s * 1000}'; }

# --- 3. disk of ten sandboxes of the image, started, before they write
log "disk: 10 sandboxes of $IMG"
export PADDOCK_HOME=$BENCH_DIR/home-disk
"$PADDOCK" template import --name "$IMG" "$ROOTFS" >/dev/null 2>&1
IMG_KB=$(du -sk "$PADDOCK_HOME" | cut -f1)
for i in $(seq 1 10); do
	mkdir -p "$BENCH_DIR/disk/p$i"
	"$PADDOCK" run -d -t "$IMG" -w "$BENCH_DIR/disk/p$i" shell >/dev/null 2>&1
done
RUNNING=$("$PADDOCK" ls -q | wc -l)
TOTAL_KB=$(du -sk "$PADDOCK_HOME" | cut -f1)
SB_KB=$(du -sk "$PADDOCK_HOME/sandboxes" | cut -f1)
"$PADDOCK" rm -f --all >/dev/null 2>&1
LIMIT_KB=$((IMG_KB * 11 / 10))
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {ok = (op == "<=") ? (a <= b) : (a >= b); print ok ? "✅" : "❌"}'; }

MD=$RESULTS/oci-latest.md
{
	echo "# paddock OCI template benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) CPUs, kernel $(uname -r), root mode."
	echo "Image: Debian bookworm minbase + sudo (mmdebstrap), one layer of $LAYER_MB MB uncompressed, $((IMG_KB / 1024)) MiB in the template cache."
	echo
	echo "| what | figure | target | |"
	echo "|---|---|---|---|"
	echo "| \`paddock run -t IMAGE shell -c true\`, new folder, image cached (hyperfine, $RUNS runs) | median **$RUN_MED ms** (mean $RUN_MEAN, min $RUN_MIN) | ≤ 60 ms | $(verdict "$RUN_MED" "<=" 60) |"
	echo "| the same with the host template, for comparison | median $HOST_MED ms | | |"
	echo "| unpack the cached layer: \`paddock template import\` (sha256 check, fsync, rename) | median $(ms "$P_MED") | | |"
	echo "| \`tar --numeric-owner -xpf\` of the same tar | median $(ms "$T_MED") | | |"
	echo "| \`tar -x\` then \`sync -f\` (durable, as paddock's) | median $(ms "$TS_MED") | | |"
	echo "| paddock's speed / tar -x's | **$RATIO** (vs tar + sync: $RATIO_SYNC) | ≥ 0.8 | $(verdict "$RATIO" ">=" 0.8) |"
	echo "| disk: PADDOCK_HOME with the image only | $((IMG_KB / 1024)) MiB | | |"
	echo "| disk: PADDOCK_HOME with 10 started sandboxes ($RUNNING running) | **$((TOTAL_KB / 1024)) MiB** (sandboxes/: $SB_KB KiB in all) | ≤ image + 10% ($((LIMIT_KB / 1024)) MiB) | $(verdict "$TOTAL_KB" "<=" "$LIMIT_KB") |"
	echo
	echo "Machine: $LOADNOTES"
	echo
	echo "Reproduce: \`sudo bash bench/oci.sh\`. Raw hyperfine data: bench/results/raw/oci-*.json."
} >"$MD"
cat "$MD"
