#!/usr/bin/env bash
# What a disk limit (--disk) costs: at create (a first run in a new folder), at a start after a
# stop, and on writes inside the sandbox (sequential, and many small files), with and without
# it. Run as root (rootless sandboxes cannot have one). On a PADDOCK_HOME without project quotas
# the limit is a filesystem image per sandbox (what this measures here); with quotas, a quota.
#
#   bash bench/disk.sh             # builds paddock, prints a table (medians, milliseconds)
#
# Knobs: RUNS=20 (first runs and restarts per case), IO_MB=512, SMALL_N=5000,
# PADDOCK=/path/to/paddock (default: built from this tree), BENCH_DIR=/var/tmp/... (scratch).
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-20}
IO_MB=${IO_MB:-512}
SMALL_N=${SMALL_N:-5000}
[ "$(id -u)" = 0 ] || { echo "bench/disk.sh: run as root" >&2; exit 1; }
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/paddock-disk-bench.XXXXXX)}
export PATH=/usr/local/go/bin:$PATH
if [ -z "${PADDOCK:-}" ]; then
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BENCH_DIR/" ./cmd/paddock ./cmd/paddock-oci)
	PADDOCK=$BENCH_DIR/paddock
fi
export PADDOCK_HOME=$BENCH_DIR/home HOME=$BENCH_DIR
cleanup() { "$PADDOCK" rm -f --all >/dev/null 2>&1 || true; rm -rf "$BENCH_DIR"; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ms() { # ms CMD...: milliseconds CMD takes
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f\n", (b-a)*1000}'
}

first() { # first [--disk SIZE]: median first run in a new folder
	local i out=()
	for ((i = 0; i < RUNS; i++)); do
		mkdir -p "$BENCH_DIR/ws/f$i$#"
		cd "$BENCH_DIR/ws/f$i$#"
		out+=("$(ms "$PADDOCK" run "$@" shell -c true)")
		"$PADDOCK" rm -f "shell-f$i$#" >/dev/null 2>&1
	done
	printf '%s\n' "${out[@]}" | median
}

restart() { # restart [--disk SIZE]: median start after a stop, one sandbox
	local i out=()
	mkdir -p "$BENCH_DIR/ws/r$#" && cd "$BENCH_DIR/ws/r$#"
	"$PADDOCK" run "$@" shell -c true >/dev/null 2>&1
	for ((i = 0; i < RUNS; i++)); do
		"$PADDOCK" stop "shell-r$#" >/dev/null
		out+=("$(ms "$PADDOCK" run shell -c true)")
	done
	printf '%s\n' "${out[@]}" | median
}

writes() { # writes [--disk SIZE]: "sequential-MB/s small-files-ms" in the sandbox's home
	mkdir -p "$BENCH_DIR/ws/w$#" && cd "$BENCH_DIR/ws/w$#"
	"$PADDOCK" run "$@" shell -c "
		t0=\$(date +%s%N); dd if=/dev/zero of=/root/big bs=1M count=$IO_MB conv=fsync 2>/dev/null; t1=\$(date +%s%N); rm /root/big
		mkdir /root/small; t2=\$(date +%s%N); for i in \$(seq $SMALL_N); do head -c 4096 /dev/zero > /root/small/\$i; done; sync; t3=\$(date +%s%N); rm -r /root/small
		echo \$(( $IO_MB * 1000000000 / (t1 - t0) )) \$(( (t3 - t2) / 1000000 ))"
}

size=$((IO_MB * 2 + 256))m
echo "paddock disk limit: $RUNS runs per case, medians; PADDOCK_HOME on $(findmnt -n -o FSTYPE --target "$BENCH_DIR") ($(findmnt -n -o OPTIONS --target "$BENCH_DIR"))"
"$PADDOCK" doctor 2>/dev/null | grep -i "disk limit" || true
printf '%-34s %12s %12s\n' "" "no --disk" "--disk $size"
printf '%-34s %12s %12s\n' "first run, new folder (ms)" "$(first)" "$(first --disk "$size")"
printf '%-34s %12s %12s\n' "start after stop (ms)" "$(restart)" "$(restart --disk "$size")"
read -r a b < <(writes)
read -r c d < <(writes --disk "$size")
printf '%-34s %12s %12s\n' "sequential write $IO_MB MiB (MB/s)" "$a" "$c"
printf '%-34s %12s %12s\n' "$SMALL_N files of 4 KiB (ms)" "$b" "$d"
