#!/usr/bin/env bash
# The VM lane: paddock on an ordinary systemd host (systemd as PID 1, the unified cgroup v2
# hierarchy, a shared root mount, logind sessions over ssh, the user's own manager), which the
# development and CI machines are not. It builds (once, cached in $VMLANE_DIR) and boots a Debian
# VM with scripts/vmlane.sh, copies in paddock and the compiled e2e tests, and runs them there as
# root and as the ordinary user dev in plain ssh sessions (no wrappers), plus the scenarios that
# need several sessions (a detached sandbox outliving its session).
#
# Run as root. Under CI=true it fails, never skips, when the VM cannot be built or booted.
# TEST_VM_KEEP=1 leaves the VM up afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
LANE=$PWD/scripts/vmlane.sh
export VMLANE_PACKAGES=${VMLANE_PACKAGES:-apparmor,apparmor-utils,xfsprogs,tmux,python3}
export PATH="/usr/local/go/bin:$PATH" CGO_ENABLED=0

say() { printf 'test-vm: %s\n' "$*" >&2; }
unavailable() {
	if [ "${CI:-}" = true ]; then
		say "FAIL: $*"
		exit 1
	fi
	say "skipped: $* (CI=true makes this a failure)"
	exit 0
}
fail() {
	say "FAIL: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || unavailable "needs root (building the VM image)"

need=()
for pair in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs \
	ssh:openssh-client scp:openssh-client ssh-keygen:openssh-client; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null; } ||
		unavailable "cannot install the VM's tools"
fi

"$LANE" build || unavailable "the VM image could not be built"

work=$(mktemp -d /tmp/paddock-vm.XXXXXX)
cleanup() {
	# TEST_VM_KEEP=1 leaves the VM running (for bench/systemd.sh); `scripts/vmlane.sh down` ends it.
	[ "${TEST_VM_KEEP:-}" = 1 ] || "$LANE" down || true
	rm -rf "$work"
}
trap cleanup EXIT

say "building paddock and the e2e tests"
go build -trimpath -ldflags=-s -o "$work/" ./cmd/paddock ./cmd/paddock-oci
go test -c -tags e2e -trimpath -o "$work/e2e.test" ./internal/e2e

# AppArmor 4's parser (Ubuntu 24.04 has it; the VM's bookworm has AppArmor 3, without the userns
# rule) checks the profile `doctor --install-apparmor-profile` writes: from a Debian trixie root
# filesystem, made once and cached.
aa=/var/cache/vmlane/apparmor-trixie
if [ ! -x "$aa/usr/sbin/apparmor_parser" ]; then
	rm -rf "$aa.tmp" && mkdir -p "$aa.tmp"
	mmdebstrap --mode=root --variant=minbase --include=apparmor --aptopt='Acquire::Retries "5"' trixie "$aa.tmp" \
		"deb ${VMLANE_MIRROR:-http://deb.debian.org/debian} trixie main" >/dev/null 2>&1 ||
		unavailable "cannot make a Debian trixie root with AppArmor 4"
	rm -rf "$aa" && mv "$aa.tmp" "$aa"
fi
say "AppArmor profile: AppArmor 4's parser"
PADDOCK_APPARMOR_ROOT=$aa go test -count=1 -run 'AppArmor' ./internal/doctor/ || fail "the AppArmor profile"

"$LANE" up >/dev/null || unavailable "the VM did not boot"
vm() { "$LANE" ssh "$@" </dev/null; }

"$LANE" cp "$work/paddock" "$work/paddock-oci" "$work/e2e.test" /usr/local/bin/
vm root 'chmod 755 /usr/local/bin/paddock /usr/local/bin/paddock-oci /usr/local/bin/e2e.test'
# TestBranch's repository is made from golang.org/x/term's files, from this host's module cache.
termzip=$(ls "$(go env GOMODCACHE)"/cache/download/golang.org/x/term/@v/*.zip 2>/dev/null | tail -n 1)
[ -n "$termzip" ] || fail "golang.org/x/term is not in the Go module cache (go mod download fills it)"
"$LANE" cp "$termzip" /usr/local/share/
vm root "chmod 644 /usr/local/share/$(basename "$termzip")"

status=0
# The Go tests, as root then as dev.
for user in root dev; do
	# (TestDiskLimitOCI builds its image from a static busybox, which the VM has not: the main suite runs it.)
	tests='^TestVM'
	# Background sessions (tmux), published ports (python3's http.server) and cp against a
	# hostile sandbox: the supervisor's work, on a systemd host, root and rootless.
	# Branch mode: the checkout and the origin's objects mounted, git on both sides.
	[ $user = root ] && tests='^(TestVM|TestWorkspaceUnderHomeOnSharedRoot|TestDiskLimit(Image|Quota|Refused)$|TestMountinfoHostPaths$|TestBackgroundSession$|TestPorts$|TestCopyHostile$|TestBranch$)'
	say "e2e tests as $user"
	vm "$user" "cd /tmp && PADDOCK_VMLANE=1 PADDOCK_E2E_BINDIR=/usr/local/bin PADDOCK_E2E_TERM_ZIP=/usr/local/share/$(basename "$termzip") e2e.test -test.count=1 -test.v -test.timeout=20m -test.run '$tests' 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' ; exit \${PIPESTATUS[0]}" ||
		status=1
done

# The issue's reproduction as it stands (root, a workspace under /root).
say "root: workspace under /root through run/stop/rm"
out=$(vm root 'set -e; rm -rf /root/proj; mkdir /root/proj; echo x > /root/proj/f; cd /root/proj
	paddock run shell -c true; paddock stop shell-proj; paddock rm shell-proj; cat /root/proj/f; grep -c " /root/.local/share/paddock" /proc/self/mountinfo || true' 2>&1) || true
if [ "$(printf '%s\n' "$out" | tail -n 2 | tr '\n' ' ')" != "x 0 " ]; then
	say "FAIL: the workspace or the mount table after rm:"
	printf '%s\n' "$out" >&2
	status=1
fi

# doctor passes for dev in a plain session.
say "doctor as dev"
if ! out=$(vm dev 'paddock doctor' 2>&1); then
	say "FAIL: doctor as dev:"
	printf '%s\n' "$out" >&2
	status=1
fi

# A detached sandbox and the end of the session that started it. Without lingering (logind
# refuses an ordinary user here: no polkit), run -d says so with the command that fixes it;
# with it, the sandbox outlives the session.
gone_after_logout() { # waits until dev has no session left and its user manager stopped
	local i
	for ((i = 0; i < 90; i++)); do
		vm root 'systemctl is-active --quiet user@1000.service' || return 0
		sleep 1
	done
	return 1
}
say "detached sandbox: without lingering"
vm root 'loginctl disable-linger dev' || true
gone_after_logout || true
out=$(vm dev 'mkdir -p ~/det && cd ~/det && paddock run -d shell' 2>&1) || true
if ! printf '%s' "$out" | grep -q 'sudo loginctl enable-linger dev'; then
	say "FAIL: run -d without lingering does not name the fix:"
	printf '%s\n' "$out" >&2
	status=1
fi
say "detached sandbox: with lingering"
vm root 'loginctl enable-linger dev'
vm dev 'cd ~/det && paddock run -d shell 2>&1' >/dev/null || status=1
sleep 15 # past the user manager's stop delay after the last session (10 s)
if ! vm root 'pgrep -u dev -f paddock-supervisor >/dev/null'; then
	say "FAIL: the detached sandbox did not outlive the session that started it (lingering on)"
	status=1
elif ! [ "$(vm dev 'paddock exec shell-det echo alive' 2>&1)" = alive ]; then
	say "FAIL: the detached sandbox does not answer after its session ended"
	status=1
fi
vm dev 'paddock rm -f --all >/dev/null 2>&1; true'

# The VM stays healthy through all of it.
state=$(vm root 'systemctl is-system-running' 2>&1) || true
case $state in
running | degraded) ;;
*)
	say "FAIL: the VM is $state after the tests"
	status=1
	;;
esac

if [ $status = 0 ]; then say "PASS"; else say "FAIL"; fi
exit $status
