#!/usr/bin/env bash
# The cost of talking to systemd (issue 13, "Speed"):
#
#   bash bench/systemd.sh        # as root; prints a small Markdown table
#
#   host:  `paddock exec` and `paddock run` reusing a running sandbox, with this tree's paddock
#          against BASE's (default: the last commit before the D-Bus code, eba4b5f): the D-Bus
#          libraries are linked in now, used only when a sandbox starts; the target is at most
#          2 ms slower. Also the Go package initialisation the D-Bus libraries add (inittrace).
#   VM:    with the VM lane up (scripts/vmlane.sh up; scripts/test-vm.sh leaves it down), a first
#          run (a new sandbox: its scope asked of the user's manager over D-Bus) as the ordinary
#          user dev in a plain ssh session, against `systemd-run --user --scope true` there.
#
# Knobs: RUNS=300 (host, hyperfine), VM_RUNS=10, BASE=<git rev>.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-300}
VM_RUNS=${VM_RUNS:-10}
BASE=${BASE:-eba4b5f}
PATH=$PATH:/usr/local/go/bin
export CGO_ENABLED=0
for c in go hyperfine git; do command -v $c >/dev/null || { echo "bench/systemd.sh: $c is required" >&2; exit 1; }; done
[[ $(id -u) == 0 ]] || { echo "bench/systemd.sh: run as root" >&2; exit 1; }

W=$(mktemp -d /var/tmp/paddock-bench-systemd.XXXXXX)
chmod 755 "$W"
cleanup() {
	set +e
	for v in new base; do PADDOCK_HOME=$W/$v/home "$W/$v/paddock" rm -f --all >/dev/null 2>&1; done
	git -C "$REPO" worktree remove --force "$W/src" >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT

mkdir -p "$W/new" "$W/base"
(cd "$REPO" && go build -trimpath -ldflags='-s -w' -o "$W/new/" ./cmd/paddock ./cmd/paddock-oci)
git -C "$REPO" worktree add -q --detach "$W/src" "$BASE"
(cd "$W/src" && go build -trimpath -ldflags='-s -w' -o "$W/base/" ./cmd/paddock ./cmd/paddock-oci)

for v in base new; do
	mkdir -p "$W/$v/ws"
	(cd "$W/$v/ws" && PADDOCK_HOME=$W/$v/home "$W/$v/paddock" run shell -c true >/dev/null 2>&1)
done
median() { # hyperfine JSON -> "median wall ms/mean CPU (user+system) ms"
	python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.2f/%.2f" % (r["median"]*1000, (r["user"]+r["system"])*1000))' "$1"
}
declare -A ms
for what in exec run; do
	for v in base new new base; do # interleaved, twice each
		if [[ $what == exec ]]; then cmd="$W/$v/paddock exec shell-ws true"; else cmd="$W/$v/paddock run shell -c true"; fi
		(cd "$W/$v/ws" && PADDOCK_HOME=$W/$v/home hyperfine -N -w 20 -r "$RUNS" --export-json "$W/h.json" "$cmd" >/dev/null 2>&1)
		ms[$what-$v]="${ms[$what-$v]:-} $(median "$W/h.json")"
	done
done
best() { printf '%s\n' $1 | cut -d/ -f"$2" | sort -n | head -1; }
init_us=$(GODEBUG=inittrace=1 "$W/new/paddock" --help 2>&1 >/dev/null | awk '/godbus|go-systemd/ { s += $5 * 1000 } END { printf "%.0f", s }')

echo "Host load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs); best of two interleaved hyperfine runs of $RUNS each."
echo
echo "| host (this tree vs $BASE) | $BASE | this tree | difference |"
echo "|---|---|---|---|"
for what in exec run; do
	label="paddock exec (running sandbox)"
	[[ $what == run ]] && label="paddock run reusing a running sandbox"
	for f in 1 2; do
		b=$(best "${ms[$what-base]}" $f) n=$(best "${ms[$what-new]}" $f)
		kind="median wall time"
		[[ $f == 2 ]] && kind="mean CPU time (user+system)"
		printf '| %s, %s | %s ms | %s ms | %+.2f ms |\n' "$label" "$kind" "$b" "$n" "$(echo "$n - $b" | bc -l)"
	done
done
echo
echo "Package initialisation added by godbus and go-systemd in every paddock process: ${init_us} µs (GODEBUG=inittrace=1)."

if "$REPO/scripts/vmlane.sh" status >/dev/null 2>&1; then
	"$REPO/scripts/vmlane.sh" cp "$W/new/paddock" "$W/new/paddock-oci" /usr/local/bin/ </dev/null
	out=$("$REPO/scripts/vmlane.sh" ssh dev "
		set -e; ms() { echo \$(( (\$(date +%s%N) - \$1) / 1000000 )); }
		mkdir -p ~/bench-first && cd ~/bench-first; paddock rm -f shell-bench-first >/dev/null 2>&1 || true
		p=; s=
		for i in \$(seq $VM_RUNS); do
			t=\$(date +%s%N); paddock run shell -c true >/dev/null 2>&1; p=\"\$p \$(ms \$t)\"
			paddock rm -f shell-bench-first >/dev/null 2>&1
			t=\$(date +%s%N); systemd-run --user --scope -q true; s=\"\$s \$(ms \$t)\"
		done
		echo \"\$p|\$s\"" </dev/null)
	med() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
	echo
	echo "| VM (QEMU TCG), user dev in an ssh session, $VM_RUNS runs | median |"
	echo "|---|---|"
	echo "| paddock run shell -c true, first run (new sandbox in its own scope) | $(med "${out%|*}") ms |"
	echo "| systemd-run --user --scope true (yardstick) | $(med "${out#*|}") ms |"
else
	echo
	echo "(VM part skipped: the VM lane is not up; scripts/vmlane.sh up)"
fi
