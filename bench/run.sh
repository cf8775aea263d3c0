#!/usr/bin/env bash
# paddock speed benchmark (issue 2, "Speed"), side by side with docker, runc and bwrap.
#
#   bash bench/run.sh            # installs what it needs (as root), builds paddock, measures,
#                                # writes bench/results/latest.md (+ raw/ data) and prints it
#
# Knobs (environment):
#   RUNS=200 WARMUP=10           hyperfine runs / warmups for the millisecond-scale commands
#   FIRST_RUNS=40 FIRST_WARMUP=3 first runs in new folders (paddock), and peers' first runs
#   DOCKER_RUNS=30               `docker run --rm` runs (each ~0.2 s)
#   IO_MB=1024 IO_REPS=10        sequential file size and repetitions of every I/O test
#   SMALL_N=20000 SMALL_KB=4     many-small-files test
#   QUIET_BUSY=30 QUIET_WAIT=120 before each section wait up to QUIET_WAIT s for CPU and disk busy < QUIET_BUSY %
#   NO_INSTALL=1                 never apt-get install
#   NO_DOCKER=1 NO_IO=1          skip the docker peers / the workspace I/O section
#   QUICK=1                      few runs, small files: checks that the script works, numbers are rough
#   NO_OCI=1                     skip bench/oci.sh (OCI templates; run as root)
#   BENCH_DIR=/var/tmp/...       scratch folder (default: a new one under /var/tmp, removed at the end)
#   KEEP=1                       keep the scratch folder (and dockerd, if this script started it)
#
# bench/profile.sh shows where the time of one command goes (perf trace timeline).
#
# Nothing leaves the machine: sandboxes have loopback only; containers run with --network none, and a
# dockerd started here has no bridge at all (--bridge=none --iptables=false).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$REPO/bench/results
RAW=$RESULTS/raw

RUNS=${RUNS:-200}
WARMUP=${WARMUP:-10}
FIRST_RUNS=${FIRST_RUNS:-40}
FIRST_WARMUP=${FIRST_WARMUP:-3}
DOCKER_RUNS=${DOCKER_RUNS:-30}
IO_MB=${IO_MB:-1024}
IO_REPS=${IO_REPS:-10}
SMALL_N=${SMALL_N:-20000}
SMALL_KB=${SMALL_KB:-4}
QUIET_BUSY=${QUIET_BUSY:-30}
QUIET_WAIT=${QUIET_WAIT:-120}
if [[ ${QUICK:-} == 1 ]]; then
	RUNS=20 WARMUP=3 FIRST_RUNS=5 FIRST_WARMUP=1 DOCKER_RUNS=3 IO_MB=64 IO_REPS=1 SMALL_N=1000 QUIET_WAIT=0
fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf 'bench: warning: %s\n' "$*" >&2; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------------------------
install_tools() {
	local -a missing=()
	have hyperfine || missing+=(hyperfine)
	have jq || missing+=(jq)
	have bwrap || missing+=(bubblewrap)
	have runc || missing+=(runc)
	[[ ${NO_DOCKER:-} == 1 ]] || have dockerd || missing+=(docker.io)
	# A static busybox is the whole rootfs of the docker image and the runc bundle.
	[[ -x /bin/busybox ]] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing+=(busybox-static)
	have file || missing+=(file)
	((${#missing[@]})) || return 0
	if [[ ${NO_INSTALL:-} == 1 || $IS_ROOT != 1 ]] || ! have apt-get; then
		warn "missing ${missing[*]} (not installing: NO_INSTALL, not root or no apt-get); the peers that need them are skipped"
		return 0
	fi
	log "installing ${missing[*]}"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_tools
have hyperfine || die "hyperfine is required"
have jq || die "jq is required"
have go || [[ -x /usr/local/go/bin/go ]] || die "go is required"
have go || PATH=$PATH:/usr/local/go/bin

# ---------------------------------------------------------------------------------------------
# 2. Scratch space, build, cleanup
# ---------------------------------------------------------------------------------------------
if [[ -z ${BENCH_DIR:-} ]]; then
	BENCH_DIR=$(mktemp -d /var/tmp/paddock-bench.XXXXXX)
else
	mkdir -p "$BENCH_DIR"
fi
BENCH_DIR=$(cd "$BENCH_DIR" && pwd -P)
mkdir -p "$RAW" "$BENCH_DIR/bin/plain"
rm -f "$RAW"/*.json "$RAW"/*.txt
PADDOCK=$BENCH_DIR/bin/paddock
PADDOCK_PLAIN=$BENCH_DIR/bin/plain/paddock
HOME_A=$BENCH_DIR/home        # long-lived sandboxes: exec, run, memory, disk, I/O
HOME_B=$BENCH_DIR/home-first  # first runs: emptied after every run
export PADDOCK_HOME=$HOME_A

DOCKERD_PID=
DOCKER_CTR=paddock-bench-exec-$$
RUNC_ROOT=$BENCH_DIR/runc-state
RUNC_EXEC_ID=paddock-bench-exec-$$
cleanup() {
	local rc=$?
	set +e
	cd /
	local h
	for h in "$BENCH_DIR"/home*; do
		[[ -d $h && -x $PADDOCK ]] && PADDOCK_HOME=$h "$PADDOCK" rm -f --all >/dev/null 2>&1
	done
	if have docker && [[ ${NO_DOCKER:-} != 1 ]]; then docker rm -f "$DOCKER_CTR" >/dev/null 2>&1; fi
	if have runc && [[ -d $RUNC_ROOT ]]; then
		runc --root "$RUNC_ROOT" kill "$RUNC_EXEC_ID" KILL >/dev/null 2>&1
		sleep 0.2
		runc --root "$RUNC_ROOT" delete -f "$RUNC_EXEC_ID" >/dev/null 2>&1
	fi
	if [[ -n $DOCKERD_PID && ${KEEP:-} != 1 ]]; then
		kill "$DOCKERD_PID" 2>/dev/null
		for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
	fi
	if [[ ${KEEP:-} == 1 ]]; then
		echo "bench: scratch kept in $BENCH_DIR" >&2
	else
		rm -rf --one-file-system "$BENCH_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The release build is the README's install command; the plain build is a bare `go build` (cgo on,
# so dynamically linked against libc), measured beside it.
log "building paddock"
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$(dirname "$PADDOCK")/" ./cmd/paddock ./cmd/paddock-oci)
(cd "$REPO" && go build -o "$(dirname "$PADDOCK_PLAIN")/" ./cmd/paddock ./cmd/paddock-oci)
(cd "$REPO" && go build -o "$BENCH_DIR/bin/iotool" bench/iotool/main.go)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l)

# ---------------------------------------------------------------------------------------------
# Helpers: load, statistics, hyperfine
# ---------------------------------------------------------------------------------------------
# busy prints "CPU% DISK%" over 1 s: the share of CPU time (all cores) spent outside idle/iowait,
# and the share of time the disk under BENCH_DIR had requests in flight (/proc/diskstats io_ticks).
DISK_DEV=$(basename "$(df --output=source "$BENCH_DIR" | tail -1)")
disk_ticks() { awk -v d="$DISK_DEV" '$3 == d {print $13; f=1} END {if (!f) print 0}' /proc/diskstats; }
busy() {
	local a b da db
	read -r -a a < <(head -1 /proc/stat)
	da=$(disk_ticks)
	sleep 1
	read -r -a b < <(head -1 /proc/stat)
	db=$(disk_ticks)
	local total=0 idle=0 i
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	idle=$((b[4] - a[4] + b[5] - a[5]))
	((total > 0)) || total=1
	echo "$(((total - idle) * 100 / total)) $(((db - da) / 10))"
}
LOADNOTES=()
# quiet SECTION waits for the other work on the machine to calm down, and notes what it saw.
quiet() {
	local section=$1 cpu disk waited=0
	read -r cpu disk < <(busy)
	while (((cpu >= QUIET_BUSY || disk >= QUIET_BUSY) && waited < QUIET_WAIT)); do
		sleep 4
		waited=$((waited + 5))
		read -r cpu disk < <(busy)
	done
	LOADNOTES+=("$section: others kept the CPU ${cpu}% and the disk ${disk}% busy (waited ${waited}s); load $(cut -d' ' -f1-3 /proc/loadavg)")
	((cpu < QUIET_BUSY && disk < QUIET_BUSY)) || warn "$section: machine still busy (CPU ${cpu}%, disk ${disk}%) after ${QUIET_WAIT}s; numbers may be inflated"
}

# stats FILE prints "median mean sd min max n" of the numbers in FILE (one per line).
stats() {
	sort -g "$1" | awk '{v[NR]=$1; s+=$1; ss+=$1*$1} END {
		if (NR==0) {print "nan nan nan nan nan 0"; exit}
		m = (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2
		mean = s/NR; var = ss/NR - mean*mean; if (var<0) var=0
		printf "%.6g %.6g %.6g %.6g %.6g %d\n", m, mean, sqrt(var), v[1], v[NR], NR }'
}

# Latency results: key -> "median mean sd min max runs" in ms, or "ERR reason".
declare -A LAT
# hf KEY RUNS WARMUP CMD [hyperfine args...]: one command through hyperfine, no shell (-N).
hf() {
	local key=$1 runs=$2 warm=$3 cmd=$4
	shift 4
	local json=$RAW/$key.json err=$RAW/$key.err.txt
	if hyperfine -N --style none -w "$warm" -r "$runs" --export-json "$json" "$@" "$cmd" >/dev/null 2>"$err"; then
		LAT[$key]=$(jq -r '.results[0] | ([.median, .mean, .stddev, .min, .max] | map(. * 1000)) + [(.times | length)] | @tsv' "$json" | tr '\t' ' ')
	else
		LAT[$key]="ERR $(grep -v '^\s*$' "$err" | tail -2 | tr '\n' ' ' | cut -c1-160)"
		warn "$key: $cmd failed: ${LAT[$key]}"
	fi
}

# ---------------------------------------------------------------------------------------------
# 3. Peers: a busybox rootfs, a docker image and container, runc bundles
# ---------------------------------------------------------------------------------------------
ROOTFS=$BENCH_DIR/rootfs
make_rootfs() {
	mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox "$ROOTFS/bin/busybox"
	local a
	for a in sh true sleep cat ls; do ln -sf busybox "$ROOTFS/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
	echo 'root:x:0:' >"$ROOTFS/etc/group"
}
PEERS_OK=1
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' || PEERS_OK=0
((PEERS_OK)) && make_rootfs

DOCKER_OK=0
start_docker() {
	[[ ${NO_DOCKER:-} == 1 ]] && return 0
	((PEERS_OK)) || return 0
	have docker || return 0
	if ! docker info >/dev/null 2>&1; then
		have dockerd && [[ $IS_ROOT == 1 ]] || {
			warn "no docker engine"
			return 0
		}
		log "starting dockerd (no bridge, no iptables)"
		dockerd --bridge=none --iptables=false --ip-masq=false >"$BENCH_DIR/dockerd.log" 2>&1 &
		DOCKERD_PID=$!
		for _ in $(seq 1 120); do
			docker info >/dev/null 2>&1 && break
			sleep 0.5
		done
		docker info >/dev/null 2>&1 || {
			warn "dockerd did not come up: $(tail -3 "$BENCH_DIR/dockerd.log")"
			return 0
		}
	fi
	tar -C "$ROOTFS" -c . | docker import - paddock-bench:latest >/dev/null
	docker rm -f "$DOCKER_CTR" >/dev/null 2>&1 || true
	docker run -d --network none --name "$DOCKER_CTR" paddock-bench:latest sleep 100000000 >/dev/null
	if docker exec "$DOCKER_CTR" true; then DOCKER_OK=1; fi
}

RUNC_OK=0
RUNC_EXEC_OK=0
RUNC_NOTE=
make_bundle() { # DIR ARGS-JSON
	mkdir -p "$1"
	cp -a "$ROOTFS" "$1/rootfs"
	(cd "$1" && runc spec)
	jq --argjson args "$2" '.process.args=$args | .process.terminal=false | .root.readonly=true' "$1/config.json" >"$1/c.json"
	mv "$1/c.json" "$1/config.json"
}
setup_runc() {
	((PEERS_OK)) && have runc && [[ $IS_ROOT == 1 ]] || {
		RUNC_NOTE="runc not measured (needs root, runc and busybox-static)"
		return 0
	}
	make_bundle "$BENCH_DIR/bundle-run" '["true"]'
	make_bundle "$BENCH_DIR/bundle-exec" '["sleep","100000000"]'
	local out
	if out=$(runc --root "$RUNC_ROOT" run -b "$BENCH_DIR/bundle-run" paddock-bench-run-$$ 2>&1 </dev/null); then
		RUNC_OK=1
	else
		RUNC_NOTE="runc run refused here: $(echo "$out" | tail -1 | cut -c1-160)"
		warn "$RUNC_NOTE"
		return 0
	fi
	if runc --root "$RUNC_ROOT" run -d -b "$BENCH_DIR/bundle-exec" "$RUNC_EXEC_ID" </dev/null >/dev/null 2>&1 &&
		runc --root "$RUNC_ROOT" exec "$RUNC_EXEC_ID" true </dev/null; then
		RUNC_EXEC_OK=1
	fi
}

# ---------------------------------------------------------------------------------------------
# 4. Memory and disk of a new sandbox, measured while it is the only sandbox running (PSS splits the
#    binary's shared pages among the processes that map it, so other paddock processes would lower it)
# ---------------------------------------------------------------------------------------------
kb() { awk -v k="$2:" '$1==k {print $2; f=1} END {if (!f) print 0}' "$1" 2>/dev/null || echo 0; }
# proc_mem PID prints "rss pss uss anon file threads" (KiB; uss = private pages).
proc_mem() {
	local p=$1
	echo "$(kb /proc/$p/status VmRSS) $(kb /proc/$p/smaps_rollup Pss) $(($(kb /proc/$p/smaps_rollup Private_Clean) + $(kb /proc/$p/smaps_rollup Private_Dirty))) $(kb /proc/$p/status RssAnon) $(kb /proc/$p/status RssFile) $(kb /proc/$p/status Threads)"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }
MEMROWS=()
# sandbox_mem BIN NAME LABEL adds the sandbox's processes (.state.pids) to MEMROWS and sets
# MEM_RSS, MEM_PSS, MEM_USS (KiB) and MEM_N.
sandbox_mem() {
	local bin=$1 name=$2 label=$3 p r s u a f th
	local -a pids
	mapfile -t pids < <("$bin" inspect "$name" | jq -r '.[0].state.pids[]')
	MEM_RSS=0 MEM_PSS=0 MEM_USS=0 MEM_N=${#pids[@]}
	for p in "${pids[@]}"; do
		read -r r s u a f th <<<"$(proc_mem "$p")"
		MEMROWS+=("| $label | $p \`$(tr '\0' ' ' </proc/$p/cmdline | cut -c1-40 | sed 's/ *$//')\` | $th | $(mib "$r") | $(mib "$s") | $(mib "$u") | $(mib "$a") | $(mib "$f") |")
		MEM_RSS=$((MEM_RSS + r))
		MEM_PSS=$((MEM_PSS + s))
		MEM_USS=$((MEM_USS + u))
	done
}
declare -A MEM
# idle_sandbox BIN KEY LABEL: a new sandbox in a new folder, idle 2 s; records memory (and disk).
idle_sandbox() {
	local bin=$1 key=$2 label=$3 name state
	mkdir -p "$BENCH_DIR/ws/idle-$key"
	cd "$BENCH_DIR/ws/idle-$key"
	name=$(PADDOCK_HOME=$BENCH_DIR/home-$key "$bin" run -d shell 2>/dev/null | tail -1)
	state=$(PADDOCK_HOME=$BENCH_DIR/home-$key "$bin" inspect "$name" | jq -r '.[0].paths.state')
	if [[ $key == release ]]; then
		DISK_KB=$(du -sk "$state" | cut -f1)
		DISK_APPARENT_KB=$(du -sk --apparent-size "$state" | cut -f1)
		DISK_FILES=$(find "$state" | wc -l)
		du -ak "$state" | sort -rn | head -15 | sed "s|$state|STATE|" >"$RAW/disk_top.txt"
		RUNDIR_KB=$(du -sk /run/paddock 2>/dev/null | cut -f1 || echo 0)
	fi
	sleep 2
	PADDOCK_HOME=$BENCH_DIR/home-$key sandbox_mem "$bin" "$name" "$label"
	MEM[$key]="$MEM_RSS $MEM_PSS $MEM_USS $MEM_N"
	MEM[$key.reported]=$(PADDOCK_HOME=$BENCH_DIR/home-$key "$bin" inspect "$name" | jq -r '.[0].state.memory_bytes // 0')
	PADDOCK_HOME=$BENCH_DIR/home-$key "$bin" rm -f "$name" >/dev/null
	cd "$BENCH_DIR"
}
quiet "memory and disk"
log "idle memory and disk of a new sandbox"
# The binaries in the page cache, as on a machine that runs paddock often: the kernel then maps
# pages around every touched one (fault-around), the worst case for RSS. A machine that reclaims
# idle page cache (this VM runs DAMON pageout for memory idle 60 s) shows less.
cat "$PADDOCK" "$PADDOCK_PLAIN" >/dev/null
idle_sandbox "$PADDOCK" release "release build, new, idle 2 s"
idle_sandbox "$PADDOCK_PLAIN" plain "plain build, new, idle 2 s"

# ---------------------------------------------------------------------------------------------
# 5. Latency
# ---------------------------------------------------------------------------------------------
start_docker
setup_runc
BUSYBOX_NOTE=""
((PEERS_OK)) || BUSYBOX_NOTE="no static busybox: docker and runc peers skipped"

# exec_sandbox BIN HOME DIR prints the name of a running sandbox for DIR, checked to work.
exec_sandbox() {
	local bin=$1 home=$2 dir=$3 name
	mkdir -p "$dir"
	cd "$dir"
	name=$(PADDOCK_HOME=$home "$bin" run -d shell 2>/dev/null | tail -1)
	[[ -n $name ]] || die "paddock run -d shell printed no name"
	PADDOCK_HOME=$home "$bin" exec "$name" true || die "paddock exec $name true failed"
	PADDOCK_HOME=$home "$bin" run shell -c true || die "paddock run shell -c true failed"
	echo "$name"
}
SB=$(exec_sandbox "$PADDOCK" "$HOME_A" "$BENCH_DIR/ws/bench-exec")

# Timed by bash's microsecond clock around the one command, each run in a new folder; the loop's
# own cost is measured the same way with /bin/true and reported as the floor.
first_loop() { # KEY N WARM CMD...
	local key=$1 n=$2 warm=$3
	shift 3
	local out=$RAW/$key.txt i t0 t1 d
	: >"$out"
	for ((i = 0; i < n + warm; i++)); do
		d=$BENCH_DIR/first/w$i
		mkdir -p "$d"
		cd "$d"
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>&1 || {
			cd "$BENCH_DIR"
			LAT[$key]="ERR run $i failed: $*"
			return 0
		}
		t1=$EPOCHREALTIME
		cd "$BENCH_DIR"
		((i < warm)) || awk -v us=$((${t1/./} - ${t0/./})) 'BEGIN {printf "%.3f\n", us/1000}' >>"$out"
		PADDOCK_HOME=$HOME_B "$PADDOCK" rm -f --all >/dev/null 2>&1 || true
		rm -rf "$d"
		sleep 0.05
	done
	LAT[$key]=$(stats "$out")
}

quiet "exec latency"
log "exec into a running sandbox"
cd "$BENCH_DIR/ws/bench-exec"
hf true_floor "$RUNS" "$WARMUP" "true"
hf paddock_exec "$RUNS" "$WARMUP" "$PADDOCK exec $SB true"
hf paddock_run_existing "$RUNS" "$WARMUP" "$PADDOCK run shell -c true"
hf paddock_exec_sh "$RUNS" "$WARMUP" "$PADDOCK exec $SB bash -l -c true"
hf paddock_version "$RUNS" "$WARMUP" "$PADDOCK version"
((DOCKER_OK)) && hf docker_exec "$RUNS" "$WARMUP" "docker exec $DOCKER_CTR true"
((RUNC_EXEC_OK)) && hf runc_exec "$RUNS" "$WARMUP" "runc --root $RUNC_ROOT exec $RUNC_EXEC_ID true"

# The exec sandbox right after those runs, the only sandbox running.
sandbox_mem "$PADDOCK" "$SB" "release build, after $((3 * (RUNS + WARMUP))) execs/runs"
MEM[used]="$MEM_RSS $MEM_PSS $MEM_USS $MEM_N"

quiet "first run"
log "first run in a new folder ($FIRST_RUNS runs + $FIRST_WARMUP warmup, a new folder each)"
PADDOCK_HOME=$HOME_B first_loop paddock_first "$FIRST_RUNS" "$FIRST_WARMUP" "$PADDOCK" run shell -c true
PADDOCK_HOME=$HOME_B first_loop paddock_first_detached "$FIRST_RUNS" "$FIRST_WARMUP" "$PADDOCK" run -d shell
first_loop loop_floor "$FIRST_RUNS" "$FIRST_WARMUP" /bin/true
cd "$BENCH_DIR"
((RUNC_OK)) && hf runc_run "$FIRST_RUNS" "$FIRST_WARMUP" "runc --root $RUNC_ROOT run -b $BENCH_DIR/bundle-run paddock-bench-run-$$"
if have bwrap; then
	hf bwrap_min "$FIRST_RUNS" "$FIRST_WARMUP" "bwrap --unshare-all --ro-bind / / true"
	hf bwrap_full "$FIRST_RUNS" "$FIRST_WARMUP" "bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp true"
fi
((DOCKER_OK)) && hf docker_run "$DOCKER_RUNS" 2 "docker run --rm --network none paddock-bench:latest true"

quiet "plain build"
log "the same with the plain build (go build, cgo on)"
HOME_P=$BENCH_DIR/home-plain-exec
SBP=$(exec_sandbox "$PADDOCK_PLAIN" "$HOME_P" "$BENCH_DIR/ws/bench-exec-plain")
cd "$BENCH_DIR/ws/bench-exec-plain"
PADDOCK_HOME=$HOME_P hf plain_exec "$RUNS" "$WARMUP" "$PADDOCK_PLAIN exec $SBP true"
PADDOCK_HOME=$HOME_P hf plain_run_existing "$RUNS" "$WARMUP" "$PADDOCK_PLAIN run shell -c true"
PADDOCK_HOME=$HOME_P hf plain_version "$RUNS" "$WARMUP" "$PADDOCK_PLAIN version"
PADDOCK_HOME=$HOME_B first_loop plain_first "$FIRST_RUNS" "$FIRST_WARMUP" "$PADDOCK_PLAIN" run shell -c true
PADDOCK_HOME=$HOME_P "$PADDOCK_PLAIN" rm -f "$SBP" >/dev/null
cd "$BENCH_DIR"

DOCKER_MEM=""
if ((DOCKER_OK)); then
	cid=$(docker inspect -f '{{.Id}}' "$DOCKER_CTR")
	shim=$(pgrep -f "containerd-shim.*$cid" | head -1 || true)
	[[ -z $shim ]] || DOCKER_MEM=$(proc_mem "$shim")
fi

# ---------------------------------------------------------------------------------------------
# 6. Workspace I/O, inside vs outside
# ---------------------------------------------------------------------------------------------
declare -A IO
if [[ ${NO_IO:-} != 1 ]]; then
	quiet "workspace I/O"
	log "workspace I/O: ${IO_MB} MiB sequential and ${SMALL_N} x ${SMALL_KB} KiB files, ${IO_REPS} reps + 1 warm-up, inside vs outside"
	# Both sides work on the same folder and the same files: from the host (outside), and through the
	# sandbox's workspace mount (inside). Only the path through the mounts differs; two sibling folders
	# would also differ in where ext4 places their inodes and blocks.
	IOWS=$BENCH_DIR/ws/bench-io
	mkdir -p "$IOWS"
	cp "$BENCH_DIR/bin/iotool" "$IOWS/.iotool"
	cd "$IOWS"
	IOSB=$("$PADDOCK" run -d shell 2>/dev/null | tail -1)
	cd "$BENCH_DIR"
	FS_IN=$("$PADDOCK" exec "$IOSB" stat -f -c %T "$IOWS")
	FS_OUT=$(stat -f -c %T "$IOWS")
	drop() {
		sync
		if [[ $IS_ROOT == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
	}
	# on SIDE CMD...: run CMD outside, or inside the I/O sandbox (the workspace is bound at its own
	# path, so the paths are the same).
	on() {
		local side=$1
		shift
		if [[ $side == in ]]; then "$PADDOCK" exec "$IOSB" "$@"; else "$@"; fi
	}
	dir_of() { echo "$IOWS"; }
	ddsecs() { awk -F, '/copied/ {gsub(/[^0-9.e-]/, "", $(NF-1)); print $(NF-1)}'; }
	# The sequential file is written once untimed, then overwritten in place: a file on newly
	# allocated blocks measures the VM disk's block allocation (/ may be mounted with online discard,
	# which hands freed blocks back to the host), not the path through the sandbox. Each test runs
	# as its own loop, so every timed run follows a run of the same kind; round 0 is a warm-up and is
	# not recorded.
	dd if=/dev/zero of="$IOWS/big" bs=1M count="$IO_MB" conv=fdatasync status=none
	record() { if (($1 == 0)); then cat >/dev/null; else cat >>"$RAW/io_$2_$3.txt"; fi; } # REP TEST SIDE
	# Which side goes first is drawn at random (seeded, so a rerun draws the same): a strict
	# alternation can fall into step with disturbances that come at a steady rhythm.
	RANDOM=2
	draw() { if ((RANDOM % 2)); then order=(out in); else order=(in out); fi; } # sets order
	for ((rep = 0; rep <= IO_REPS; rep++)); do
		draw
		for s in "${order[@]}"; do
			drop
			on "$s" dd if=/dev/zero of="$(dir_of "$s")/big" bs=1M count="$IO_MB" conv=notrunc,fdatasync 2>&1 | ddsecs | record "$rep" seqwrite "$s"
		done
	done
	# Not workspace I/O: 4 million read/write calls on /dev/zero and /dev/null show what every system
	# call costs more inside (any seccomp filter puts each one on the kernel's slower entry path).
	# Likewise 200,000 read-only opens of one workspace file: what each open() costs more inside
	# (Landlock checks the path of every open, also a read-only one, when it handles truncation).
	echo x >"$IOWS/.openme"
	for ((rep = 0; rep <= IO_REPS; rep++)); do
		draw
		for s in "${order[@]}"; do
			on "$s" dd if=/dev/zero of=/dev/null bs=1 count=2000000 2>&1 | ddsecs | record "$rep" syscalls "$s"
			on "$s" "$IOWS/.iotool" opens "$IOWS/.openme" 200000 | record "$rep" opens "$s"
		done
	done
	for ((rep = 0; rep <= IO_REPS; rep++)); do
		draw
		for s in "${order[@]}"; do
			drop
			on "$s" dd if="$(dir_of "$s")/big" of=/dev/null bs=1M 2>&1 | ddsecs | record "$rep" seqread "$s"
		done
	done
	for ((rep = 0; rep <= IO_REPS; rep++)); do
		draw
		for s in "${order[@]}"; do
			drop
			on "$s" "$IOWS/.iotool" create "$(dir_of "$s")/small-$s" "$SMALL_N" $((SMALL_KB * 1024)) | record "$rep" smallcreate "$s"
		done
		draw
		for s in "${order[@]}"; do
			drop
			on "$s" "$IOWS/.iotool" read "$(dir_of "$s")/small-$s" | record "$rep" smallread "$s"
		done
		draw
		for s in "${order[@]}"; do
			on "$s" "$IOWS/.iotool" read "$(dir_of "$s")/small-$s" >/dev/null # warms the cache
			on "$s" "$IOWS/.iotool" read "$(dir_of "$s")/small-$s" | record "$rep" smallreadwarm "$s"
		done
		draw
		for s in "${order[@]}"; do
			on "$s" "$IOWS/.iotool" delete "$(dir_of "$s")/small-$s" | record "$rep" smalldelete "$s"
		done
	done
	rm -f "$IOWS/big"
	for t in seqwrite seqread smallcreate smallread smallreadwarm smalldelete syscalls opens; do
		IO[$t]="$(stats "$RAW/io_${t}_out.txt" | cut -d' ' -f1,4) $(stats "$RAW/io_${t}_in.txt" | cut -d' ' -f1,4)"
	done
fi

# ---------------------------------------------------------------------------------------------
# 7. Report
# ---------------------------------------------------------------------------------------------
quiet "end"
ms() { awk -v v="$1" 'BEGIN {printf (v < 10 ? "%.2f ms" : "%.1f ms"), v}'; }
verdict() { # VALUE OP TARGET
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == "<=") ? v <= t : v >= t; print ok ? "PASS" : "**MISS**" }'
}
lat_row() { # KEY LABEL COMMAND TARGET_MS
	local key=$1 label=$2 cmd=$3 target=${4:-}
	local v=${LAT[$key]:-}
	if [[ -z $v ]]; then
		echo "| $label | \`$cmd\` | not measured | | | | ${target:+≤ $target ms} | |"
		return
	fi
	if [[ $v == ERR* ]]; then
		echo "| $label | \`$cmd\` | failed: ${v#ERR } | | | | ${target:+≤ $target ms} | |"
		return
	fi
	read -r med mean sd min _ n <<<"$v"
	local vd=""
	[[ -n $target ]] && vd=$(verdict "$med" "<=" "$target")
	echo "| $label | \`$cmd\` | **$(ms "$med")** | $(ms "$mean") ± $(ms "$sd") | $(ms "$min") | $n | ${target:+≤ $target ms} | $vd |"
}
io_row() { # KEY LABEL [UNIT-SIZE-MIB] [info]
	local key=$1 label=$2 size=${3:-} info=${4:-}
	[[ -n ${IO[$key]:-} ]] || return 0
	local out omin in imin ratio best rate="" vd
	read -r out omin in imin <<<"${IO[$key]}"
	ratio=$(awk -v o="$out" -v i="$in" 'BEGIN {printf "%.3f", o/i}')
	best=$(awk -v o="$omin" -v i="$imin" 'BEGIN {printf "%.3f", o/i}')
	[[ -n $size ]] && rate=$(awk -v o="$out" -v i="$in" -v s="$size" 'BEGIN {printf " (%.0f vs %.0f MiB/s)", s/o, s/i}')
	local target="≥ 0.97"
	vd=$(verdict "$ratio" ">=" 0.97)
	# A median that misses while the fastest runs are at parity means interference (see the note).
	[[ $vd == PASS || $(verdict "$best" ">=" 0.97) != PASS ]] || vd="noisy: median **MISS**, best-of PASS"
	[[ -z $info ]] || { target="—"; vd="(not workspace I/O)"; }
	echo "| $label | $(awk -v v="$out" 'BEGIN{printf "%.3f s", v}') | $(awk -v v="$in" 'BEGIN{printf "%.3f s", v}')$rate | **$ratio** | $best | $target | $vd |"
}
per_call() { # KEY CALLS LABEL: the extra time per call inside, from the best runs
	[[ -n ${IO[$1]:-} ]] || return 0
	local _o omin _i imin
	read -r _o omin _i imin <<<"${IO[$1]}"
	awk -v o="$omin" -v i="$imin" -v n="$2" -v l="$3" 'BEGIN {printf "%+.0f ns per %s", (i - o) / n * 1e9, l}'
}
CGROUPS=$(if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then echo "v2"; elif [[ -d /sys/fs/cgroup/unified ]]; then echo "v1 + v2 hybrid"; else echo "v1"; fi)
MD=$RESULTS/latest.md
mem_row() { # KEY LABEL [TARGET-CHECK]
	[[ -n ${MEM[$1]:-} ]] || return 0
	local r p u n
	read -r r p u n <<<"${MEM[$1]}"
	local vd
	vd="RSS $(verdict "$r" "<=" 12288), PSS $(verdict "$p" "<=" 12288)"
	[[ -n ${3:-} ]] || vd=""
	echo "| $2 | $n | **$(mib "$r")** | **$(mib "$p")** | $(mib "$u") | ${3:+≤ 12 MiB} | $vd |"
}
{
	echo "# paddock benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC') · paddock $COMMIT$( ((DIRTY)) && echo " + $DIRTY uncommitted changes") · $(go version | cut -d' ' -f3)"
	echo "· $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) · kernel $(uname -r) · cgroups $CGROUPS · $( [[ $IS_ROOT == 1 ]] && echo root || echo "uid $(id -u)")"
	echo "· hyperfine $(hyperfine --version | cut -d' ' -f2), runc $(runc --version 2>/dev/null | head -1 | cut -d' ' -f3 || echo -), bwrap $(bwrap --version 2>/dev/null | cut -d' ' -f2 || echo -), docker engine $( ((DOCKER_OK)) && docker version -f '{{.Server.Version}}' 2>/dev/null || echo -) (client $(command -v docker || echo -))"
	echo "· release build = the README's \`CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'\` ($(du -k "$PADDOCK" | cut -f1) KiB, static); plain build = \`go build\` ($(du -k "$PADDOCK_PLAIN" | cut -f1) KiB, cgo, dynamic)"
	echo
	echo "Load seen before each section (other sessions share this machine):"
	for n in "${LOADNOTES[@]}"; do echo "- $n"; done
	echo
	echo "## Latency (release build)"
	echo
	echo "hyperfine, no shell (\`-N\`), $RUNS runs after $WARMUP warmups; first runs: $FIRST_RUNS runs after $FIRST_WARMUP warmups, each in a new folder (paddock, timed with bash's \$EPOCHREALTIME) or a new container (peers). The median is the figure that counts."
	echo
	echo "| what | command | median | mean ± σ | min | runs | target | |"
	echo "|---|---|---|---|---|---|---|---|"
	lat_row paddock_exec "exec, running sandbox" "paddock exec SANDBOX true" 5
	lat_row paddock_run_existing "run, existing running sandbox" "paddock run shell -c true" 10
	lat_row paddock_first "first run, new folder" "paddock run shell -c true" 40
	lat_row paddock_first_detached "… create + start, no agent" "paddock run -d shell"
	lat_row paddock_exec_sh "… the agent: bash -l in the sandbox" "paddock exec SANDBOX bash -l -c true"
	lat_row paddock_version "… the CLI starting and exiting" "paddock version"
	lat_row docker_exec "peer: docker exec" "docker exec CONTAINER true"
	lat_row runc_exec "peer: runc exec" "runc exec CONTAINER true"
	lat_row runc_run "peer: runc run (new container)" "runc run -b BUNDLE ID   (busybox true)"
	lat_row bwrap_min "peer: bwrap (minimal)" "bwrap --unshare-all --ro-bind / / true"
	lat_row bwrap_full "peer: bwrap + /proc /dev /tmp" "bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp true"
	lat_row docker_run "peer: docker run (new container)" "docker run --rm --network none IMAGE true"
	lat_row true_floor "floor: hyperfine spawning a process" "true"
	lat_row loop_floor "floor: first-run loop timing a process" "/bin/true"
	[[ -n $RUNC_NOTE ]] && echo && echo "runc: $RUNC_NOTE"
	[[ -n $BUSYBOX_NOTE ]] && echo && echo "$BUSYBOX_NOTE"
	echo
	echo "Plain build (\`go build\`, cgo on, dynamically linked):"
	echo
	echo "| what | command | median | mean ± σ | min | runs | target | |"
	echo "|---|---|---|---|---|---|---|---|"
	lat_row plain_exec "exec, running sandbox" "paddock exec SANDBOX true" 5
	lat_row plain_run_existing "run, existing running sandbox" "paddock run shell -c true" 10
	lat_row plain_first "first run, new folder" "paddock run shell -c true" 40
	lat_row plain_version "the CLI starting and exiting" "paddock version"
	echo
	echo "## Idle memory (target: at most 12 MiB for all of a sandbox's processes)"
	echo
	echo "Each sandbox measured while it was the only one running. RSS counts the paddock binary's pages once per process; PSS shares them out among the processes mapping them; USS is what only these processes hold."
	echo
	echo "| sandbox | processes | RSS | PSS | USS | target | |"
	echo "|---|---|---|---|---|---|---|"
	mem_row release "release build: new, after \`paddock run -d shell\`, idle 2 s" check
	mem_row used "release build: the exec sandbox after the latency runs" check
	mem_row plain "plain build: new, after \`paddock run -d shell\`, idle 2 s" check
	if [[ -n $DOCKER_MEM ]]; then
		read -r dr dp du _ <<<"$DOCKER_MEM"
		echo "| peer: docker's containerd-shim for one container (its own process not counted) | 1 | $(mib "$dr") | $(mib "$dp") | $(mib "$du") | | |"
	fi
	echo
	echo "\`paddock inspect\` reports memory_bytes = $(mib $((${MEM[release.reported]:-0} / 1024))) for the new release-build sandbox (its RSS sum). Per process:"
	echo
	echo "| sandbox | pid, command | threads | RSS | PSS | USS | RSS anon | RSS file |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${MEMROWS[@]}"
	echo
	echo "## Disk of a new sandbox (target: at most 1 MiB)"
	echo
	echo "| what | size | target | |"
	echo "|---|---|---|---|"
	echo "| \`du -sk\` of .paths.state right after \`paddock run -d shell\` | **$DISK_KB KiB** (apparent $DISK_APPARENT_KB KiB, $DISK_FILES files and folders) | ≤ 1024 KiB | $(verdict "$DISK_KB" "<=" 1024) |"
	echo "| /run/paddock (tmpfs) with that one sandbox running | $RUNDIR_KB KiB | | |"
	echo
	echo "Largest entries: $(head -6 "$RAW/disk_top.txt" | awk '{printf "%s%s %s KiB", (NR>1?", ":""), $2, $1}')"
	if [[ ${NO_IO:-} != 1 ]]; then
		echo
		echo "## Workspace I/O, inside the sandbox vs outside (target: inside at least 0.97 of the speed outside)"
		echo
		echo "Median of $IO_REPS runs each after one warm-up round, inside or outside first drawn at random; the same binaries (coreutils dd, bench/iotool) on the same folder and files, once from the host and once through the sandbox's workspace mount ($FS_OUT, mounted $(awk -v m="$(df --output=target "$IOWS" | tail -1)" '$2==m {print $4}' /proc/mounts | head -1); $FS_IN seen from inside); $( [[ $IS_ROOT == 1 ]] && echo 'page cache dropped before every run' || echo 'page cache NOT dropped (not root)'). The sequential file is preallocated and overwritten in place. Speed ratio = time outside / time inside; the best-of ratio compares the fastest runs, which interference cannot make faster. On this VM some reads and writes take 0.2-0.5 s longer at a steady rhythm (every few seconds, whichever side runs then: also seen with both sides in one memory cgroup), so a median can land between the two groups; rerun with more IO_REPS when a median and its best-of disagree."
		echo
		echo "| test | outside (median) | inside (median) | inside/outside | best-of-$IO_REPS ratio | target | |"
		echo "|---|---|---|---|---|---|---|"
		io_row seqwrite "write ${IO_MB} MiB in place, dd bs=1M conv=notrunc,fdatasync" "$IO_MB"
		io_row seqread "read ${IO_MB} MiB, dd bs=1M, cold cache" "$IO_MB"
		io_row smallcreate "create ${SMALL_N} × ${SMALL_KB} KiB files + syncfs"
		io_row smallread "read ${SMALL_N} × ${SMALL_KB} KiB files, cold cache"
		io_row smallreadwarm "read ${SMALL_N} × ${SMALL_KB} KiB files again, warm cache (the path through the mounts alone)"
		io_row smalldelete "delete ${SMALL_N} files + syncfs"
		io_row syscalls "syscall-bound: dd bs=1 count=2000000 /dev/zero → /dev/null" "" info
		io_row opens "open-bound: 200,000 × open(O_RDONLY)+close of one workspace file" "" info
		echo
		echo "Per call, inside minus outside (best runs): $(per_call syscalls 4000000 "system call") ; $(per_call opens 200000 "open+close")."
	fi
	echo
	echo "Raw data: bench/results/raw/ (hyperfine JSON, per-run times)."
} >"$MD"
cp "$MD" "$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$MD"

# The Docker backend against the docker CLI on the same engine (issue 7): bench/docker.sh.
if ((DOCKER_OK)); then
	log "Docker backend vs docker CLI (bench/docker.sh)"
	RUNS=$((RUNS / 2)) WARMUP=$WARMUP bash "$REPO/bench/docker.sh" >/dev/null || warn "bench/docker.sh failed"
	echo && echo "Docker backend: see bench/results/docker-latest.md" && cat "$RESULTS/docker-latest.md"
fi

# A real Claude Code session through paddock vs on the host, against a loopback stand-in of its
# API (issue 8): bench/agents.sh.
if have npm; then
	log "Claude Code through paddock vs on the host (bench/agents.sh)"
	RUNS=$((RUNS / 10 > 5 ? RUNS / 10 : 5)) WARMUP=2 bash "$REPO/bench/agents.sh" >/dev/null || warn "bench/agents.sh failed"
	echo && echo "Agents: see bench/results/agents-latest.md" && cat "$RESULTS/agents-latest.md"
fi

# The egress proxy against direct connections on loopback (issue 5): bench/egress.sh.
log "egress proxy vs direct (bench/egress.sh)"
if [[ ${QUICK:-} == 1 ]]; then EGRESS_ENV="QUICK=1"; else EGRESS_ENV="N=$RUNS"; fi
env $EGRESS_ENV bash "$REPO/bench/egress.sh" >/dev/null || warn "bench/egress.sh failed"
echo && echo "Egress: see bench/results/egress-latest.md" && cat "$RESULTS/egress-latest.md"

# Templates from OCI images (issue 3): bench/oci.sh, with the same binary; its own report.
if [[ ${NO_OCI:-} != 1 && $IS_ROOT == 1 ]]; then
	log "OCI templates (bench/oci.sh)"
	PADDOCK=$PADDOCK BENCH_DIR=$BENCH_DIR/oci QUICK=${QUICK:-} bash "$REPO/bench/oci.sh" || warn "bench/oci.sh failed"
fi
