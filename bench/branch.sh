#!/usr/bin/env bash
# Branch mode (issue 15, "Speed"): making a branch sandbox of a repository of 20,000 files
# against `git worktree add` of the same commit (target ≤ 1.5x).
#
#   bash bench/branch.sh         # builds paddock, measures, writes bench/results/branch-latest.md
#
#   paddock create --branch=NAME shell   (its checkout, the sandbox's record; not started)
#   git worktree add DIR HEAD            (a checkout of the same commit)
#
# Knobs: RUNS=10 FILES=20000; QUICK=1 for a few runs. Needs hyperfine, jq, git and go.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${RUNS:-10}
FILES=${FILES:-20000}
[[ ${QUICK:-} == 1 ]] && RUNS=3 FILES=2000
PATH=$PATH:/usr/local/go/bin
for c in hyperfine jq git go; do command -v $c >/dev/null || { echo "bench/branch.sh: $c is required" >&2; exit 1; }; done
W=$(mktemp -d /var/tmp/paddock-bench-branch.XXXXXX)
export PADDOCK_HOME=$W/home
cleanup() {
	set +e
	cd /
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/" ./cmd/paddock ./cmd/paddock-oci)
R=$W/repo
mkdir -p "$R"
echo "==> a repository of $FILES files" >&2
(
	cd "$R"
	git init -q -b main
	for d in $(seq 0 199); do mkdir -p "src/d$d"; done
	for i in $(seq 0 $((FILES - 1))); do printf 'package d%d\n\n// file %d of the benchmark repository\nconst X%d = %d\n' $((i % 200)) "$i" "$i" "$i" >"src/d$((i % 200))/f$i.go"; done
	git add -A
	git -c user.name=b -c user.email=b@b commit -q -m import
)
cd "$R"
P=$W/paddock
hyperfine -N --style none -w 1 -r "$RUNS" --export-json "$W/wt.json" \
	--prepare "sh -c 'git -C $R worktree remove --force $W/wt 2>/dev/null; git -C $R worktree prune; git -C $R branch -D -q wt 2>/dev/null; true'" \
	"git -C $R worktree add -q -b wt $W/wt HEAD" >/dev/null
hyperfine -N --style none -w 1 -r "$RUNS" --export-json "$W/pd.json" \
	--prepare "sh -c '$P rm -f bench >/dev/null 2>&1; true'" \
	"$P create --branch=bench shell" >/dev/null
WT=$(jq -r '.results[0].median * 1000' "$W/wt.json")
PD=$(jq -r '.results[0].median * 1000' "$W/pd.json")
mkdir -p "$RESULTS"
MD=$RESULTS/branch-latest.md
{
	echo "# Branch mode: a branch sandbox vs git worktree add"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $(git -C "$REPO" rev-parse --short HEAD) · $(git --version) · $(nproc) cores · load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "A repository of $FILES files in one commit. hyperfine -N, median of $RUNS runs; the checkout removed before each."
	echo
	echo "| | median |"
	echo "|---|---|"
	printf '| git worktree add DIR HEAD | %.0f ms |\n' "$WT"
	printf '| paddock create --branch=NAME shell | %.0f ms |\n' "$PD"
	awk -v a="$PD" -v b="$WT" 'BEGIN {printf "| ratio (target ≤ 1.5) | **%.2f** |\n", a / b}'
} >"$MD"
cp "$MD" "$RESULTS/branch-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"
