#!/usr/bin/env bash
# The egress proxy's cost (issue 5, "Speed"): curl from inside a sandbox through paddock's proxy
# against the same curl on the host straight to the server, both on 127.0.0.1.
#
#   bash bench/egress.sh        # builds paddock, measures, writes bench/results/egress-latest.md
#
#   connection: N curl runs, each a new HTTPS connection (TCP, TLS handshake, GET), direct and
#               proxied alternating in rounds of ten;
#               curl's own time_total (process start excluded), median and mean.
#               target: through the proxy ≤ direct + 1 ms
#   bulk:       one HTTPS download of BULK_MB MiB, REPS times each way, alternating; MiB/s.
#               target: ≥ 0.9 of direct
#
# The proxy tunnels these connections (CONNECT, spliced both ways): a host without a stored key
# is never intercepted. Knobs: N=300 BULK_MB=1024 REPS=5; QUICK=1 for a few runs. Needs root or an
# ordinary user with user namespaces, curl, go. Nothing leaves the machine.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
N=${N:-300}
BULK_MB=${BULK_MB:-1024}
REPS=${REPS:-5}
[[ ${QUICK:-} == 1 ]] && N=30 BULK_MB=128 REPS=2
PATH=$PATH:/usr/local/go/bin
for c in curl go awk; do command -v $c >/dev/null || { echo "bench/egress.sh: $c is required" >&2; exit 1; }; done

W=$(mktemp -d /var/tmp/paddock-bench-egress.XXXXXX)
chmod 755 "$W"
export PADDOCK_HOME=$W/home
SRV_PID=
cleanup() {
	set +e
	cd /
	[[ -n $SRV_PID ]] && kill "$SRV_PID" 2>/dev/null
	[[ -x $W/paddock ]] && "$W/paddock" rm -f --all >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/paddock" ./cmd/paddock &&
	go build -o "$W/egresstool" ./bench/egresstool)
P=$W/paddock
mkdir -p "$PADDOCK_HOME"
"$W/egresstool" "$PADDOCK_HOME" >"$W/port" 2>"$W/srv.log" &
SRV_PID=$!
for _ in $(seq 50); do [[ -s $W/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$W/port")
[[ -n $PORT ]] || { echo "bench/egress.sh: the server did not start" >&2; exit 1; }
CA=$PADDOCK_HOME/egress/ca/ca.pem
echo "bench.test:443 127.0.0.1:$PORT" >"$W/hosts"
export PADDOCK_EGRESS_HOSTS=$W/hosts
[[ $(id -u) == 0 ]] || export PADDOCK_UNSAFE_NO_LIMITS=${PADDOCK_UNSAFE_NO_LIMITS:-1}

mkdir -p "$W/ws/bench"
cd "$W/ws/bench"
# All CPUs: the default limit (all but one) would slow the sandbox's curl, not the proxy.
# (Rootless on a host without cgroup delegation runs without limits: PADDOCK_UNSAFE_NO_LIMITS.)
CPUS=(--cpus "$(nproc)")
[[ $(id -u) == 0 || ${PADDOCK_UNSAFE_NO_LIMITS:-} != 1 ]] || CPUS=()
SB=$("$P" run -d --network locked "${CPUS[@]}" shell)
# Both curls verify against the CA alone (the sandbox's full bundle costs every curl ~20 ms to load).
cp "$CA" "$W/ws/bench/ca.pem"
"$P" policy allow bench.test:443 --sandbox "$SB" 2>/dev/null
"$P" exec "$SB" curl -fsS -o /dev/null https://bench.test/ || { echo "bench/egress.sh: curl through the proxy failed" >&2; exit 1; }

# Direct and proxied connections alternate in rounds of ten, so that the other load of a busy
# machine weighs on both alike.
loop='for i in $(seq 10); do curl -sS -o /dev/null -w "%{time_total}\n" --cacert '$W/ws/bench/ca.pem' "$@" https://bench.test/; done'
direct() { sh -c "$loop" sh --connect-to "bench.test:443:127.0.0.1:$PORT" --noproxy '*'; }
proxied() { "$P" exec "$SB" sh -c "$loop" sh; }
# The same host curl as direct, run in the sandbox's network namespace and through the proxy:
# the proxy's own cost, without the sandbox's process environment (cgroup, seccomp) around curl.
INIT=$("$P" inspect "$SB" | awk -F'[:,]' '/"init_pid"/ {gsub(/ /, "", $2); print $2; exit}')
NSENTER=0
[[ $(id -u) == 0 ]] && command -v nsenter >/dev/null && NSENTER=1
nsproxied() { nsenter --net="/proc/$INIT/ns/net" sh -c "$loop" sh -x http://127.0.0.1:3128 --noproxy ''; }
stats() { sort -n | awk '{a[NR]=$1*1000; s+=$1*1000} END {printf "%.3f %.3f\n", a[int((NR+1)/2)], s/NR}'; }

echo "==> $N HTTPS connections, direct and through the proxy, alternating" >&2
direct >/dev/null 2>&1 || true # warm up
proxied >/dev/null 2>&1 || true
: >"$W/direct.txt"
: >"$W/proxied.txt"
: >"$W/nsproxied.txt"
for _ in $(seq $(((N + 9) / 10))); do
	direct >>"$W/direct.txt"
	proxied >>"$W/proxied.txt"
	((NSENTER)) && nsproxied >>"$W/nsproxied.txt"
done
read -r D_MED D_MEAN < <(stats <"$W/direct.txt")
read -r P_MED P_MEAN < <(stats <"$W/proxied.txt")
N_MED=n/a N_MEAN=n/a
((NSENTER)) && read -r N_MED N_MEAN < <(stats <"$W/nsproxied.txt")

echo "==> bulk: $BULK_MB MiB over HTTPS, $REPS times each, alternating" >&2
one='curl -sS -o /dev/null -w "%{speed_download}\n" "$@" "https://bench.test/bulk?mb='$BULK_MB'"'
speed() { sort -n | awk '{a[NR]=$1/1048576} END {printf "%.0f\n", a[int((NR+1)/2)]}'; }
SUP=$("$P" inspect "$SB" | awk -F'[:,]' '/"supervisor_pid"/ {gsub(/ /, "", $2); print $2; exit}')
cpu() { awk '{print $14 + $15}' "/proc/$SUP/stat"; }
: >"$W/dbulk.txt"
: >"$W/pbulk.txt"
: >"$W/nbulk.txt"
PT=0
for _ in $(seq "$REPS"); do
	sh -c "$one" sh --cacert "$CA" --connect-to "bench.test:443:127.0.0.1:$PORT" --noproxy '*' >>"$W/dbulk.txt"
	C0=$(cpu)
	"$P" exec "$SB" sh -c "$one" sh >>"$W/pbulk.txt"
	PT=$((PT + $(cpu) - C0))
	((NSENTER)) && nsenter --net="/proc/$INIT/ns/net" sh -c "$one" sh --cacert "$CA" -x http://127.0.0.1:3128 --noproxy '' >>"$W/nbulk.txt"
done
D_BULK=$(speed <"$W/dbulk.txt")
P_BULK=$(speed <"$W/pbulk.txt")
N_BULK=n/a
((NSENTER)) && N_BULK=$(speed <"$W/nbulk.txt")
# The proxy runs in the sandbox's supervisor: its CPU time per GiB moved is what forwarding costs.
PROXY_CPU=$(awk -v t=$PT -v hz="$(getconf CLK_TCK)" -v mb=$((BULK_MB * REPS)) 'BEGIN {printf "%.2f", t / hz / (mb / 1024)}')
PROXY_CAP=$(awk -v c="$PROXY_CPU" 'BEGIN {if (c > 0) printf "%.0f", 1024 / c; else print "n/a"}')

"$P" stop "$SB" >/dev/null

echo "==> the proxy in one process (go test -bench, internal/egress)" >&2
GOBENCH=$(cd "$REPO" && go test -run XXX -bench . -benchtime "${BENCHTIME:-3s}" -count 1 ./internal/egress 2>&1 | awk '/^Benchmark/ {
	sub(/-[0-9]+$/, "", $1); if ($6 == "MB/s") printf "| %s | %.3f ms | %s MB/s |\n", $1, $3 / 1e6, $5; else printf "| %s | %.3f ms | |\n", $1, $3 / 1e6 }')
DELTA=$(awk -v a="$P_MED" -v b="$D_MED" 'BEGIN {printf "%.3f", a-b}')
NDELTA=$(awk -v a="$N_MED" -v b="$D_MED" 'BEGIN {if (a == "n/a") print "n/a"; else printf "%.3f", a-b}')
RATIO=$(awk -v a="$P_BULK" -v b="$D_BULK" 'BEGIN {printf "%.2f", a/b}')
NRATIO=$(awk -v a="$N_BULK" -v b="$D_BULK" 'BEGIN {if (a == "n/a") print "n/a"; else printf "%.2f", a/b}')
mkdir -p "$RESULTS"
{
	echo "# Egress proxy: through the proxy vs direct, on 127.0.0.1"
	echo
	echo "$(date -u +%F), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); curl $(curl --version | awk 'NR==1 {print $2}'); sandbox: host template, --network locked + one rule, ${CPUS[*]:-no limits}, $([[ $(id -u) == 0 ]] && echo root || echo "rootless ($(id -un))")"
	echo
	echo "| HTTPS connection (curl time_total, ms) | median | mean |"
	echo "|---|---|---|"
	echo "| direct (host curl → server) | $D_MED | $D_MEAN |"
	echo "| through the proxy (sandbox curl → proxy → server) | $P_MED | $P_MEAN |"
	echo "| through the proxy, host curl in the sandbox's network namespace (nsenter) | $N_MED | $N_MEAN |"
	echo
	echo "Added per connection (medians): by the proxy **$NDELTA ms** (same curl, target ≤ 1 ms); by the"
	echo "proxy and the sandbox's process environment around curl together **$DELTA ms**."
	echo
	echo "| bulk HTTPS download, $BULK_MB MiB | MiB/s (median of $REPS) |"
	echo "|---|---|"
	echo "| direct | $D_BULK |"
	echo "| through the proxy (sandbox curl) | $P_BULK |"
	echo "| through the proxy (host curl in the sandbox's network namespace) | $N_BULK |"
	echo
	echo "Throughput through the proxy: **$NRATIO** of direct with the same curl, **$RATIO** from inside the sandbox (target ≥ 0.9)."
	echo
	echo "The proxy (in the sandbox's supervisor) used $PROXY_CPU CPU-seconds per GiB forwarded: one CPU"
	echo "forwards about $PROXY_CAP MiB/s. It runs under SCHED_BATCH in the caller's session"
	echo "(internal/batchsched): woken by each packet it would preempt curl or the server and move one"
	echo "TLS record at a time; as a batch thread it moves what several packets brought at once."
	echo
	echo "In one process (\`go test -bench . ./internal/egress\`: client, proxy and server on loopback, no sandbox):"
	echo
	echo "| benchmark | per operation | throughput |"
	echo "|---|---|---|"
	echo "$GOBENCH"
} >"$RESULTS/egress-latest.md"
cat "$RESULTS/egress-latest.md"
