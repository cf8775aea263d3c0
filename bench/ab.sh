#!/usr/bin/env bash
# A/B of paddock's native hot paths between two builds, interleaved so that both see the same load
# (a shared machine's noise hits both alike): exec into a running sandbox, run reusing it, and a
# first run in a new folder. Each iteration times A then B (the order alternating); medians printed.
#
#   bash bench/ab.sh OLD_PADDOCK NEW_PADDOCK      # N=200 exec/run iterations, F=40 first runs
#
# Build each side as run.sh does: go build -trimpath -ldflags='-s -w' -o DIR/ ./cmd/paddock ./cmd/paddock-oci
set -uo pipefail
[[ $# == 2 && -x $1 && -x $2 ]] || { echo "usage: bash bench/ab.sh OLD_PADDOCK NEW_PADDOCK" >&2; exit 2; }
N=${N:-200}
F=${F:-40}
D=$(mktemp -d /var/tmp/paddock-ab.XXXXXX)
declare -A BIN=([a]=$1 [b]=$2)
cleanup() {
	for v in a b; do
		PADDOCK_HOME=$D/home-$v "${BIN[$v]}" rm -f --all >/dev/null 2>&1
		PADDOCK_HOME=$D/first-$v "${BIN[$v]}" rm -f --all >/dev/null 2>&1
	done
	rm -rf "$D"
}
trap cleanup EXIT
for v in a b; do
	mkdir -p $D/ws-$v
	(cd $D/ws-$v && PADDOCK_HOME=$D/home-$v "${BIN[$v]}" run -d shell >/dev/null 2>&1) || exit 1
done
ms() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local e=$EPOCHREALTIME; echo "($e - $s)*1000" | bc -l; }
declare -A T
for i in $(seq 1 $N); do
	order="a b"; ((i % 2)) && order="b a"
	for v in $order; do
		T[exec-$v]+="$(PADDOCK_HOME=$D/home-$v ms "${BIN[$v]}" exec shell-ws-$v true) "
		T[reuse-$v]+="$(cd $D/ws-$v && PADDOCK_HOME=$D/home-$v ms "${BIN[$v]}" run shell -c true) "
	done
done
for i in $(seq 1 $F); do
	order="a b"; ((i % 2)) && order="b a"
	for v in $order; do
		mkdir -p $D/f-$v/$i
		T[first-$v]+="$(cd $D/f-$v/$i && PADDOCK_HOME=$D/first-$v ms "${BIN[$v]}" run shell -c true) "
	done
done
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for k in exec reuse first; do
	a=$(echo ${T[$k-a]} | med) b=$(echo ${T[$k-b]} | med)
	printf '%-6s old %8s ms  new %8s ms  (%+.1f%%)\n' $k $a $b "$(echo "($b - $a) / $a * 100" | bc -l)"
done
