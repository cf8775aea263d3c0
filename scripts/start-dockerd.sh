#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, starting Debian's dockerd if none
# does. The engine is started without a default bridge (--bridge=none, --iptables=false): the
# tests' containers use --network none or networks the tests create, and nothing may reach
# addresses outside 127.0.0.0/8 by accident.
set -euo pipefail
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	exit 0
fi
mkdir -p /var/log
nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/paddock-dockerd.log 2>&1 &
for _ in $(seq 1 120); do
	if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
		echo "dockerd $(docker version --format '{{.Server.Version}}') is up"
		exit 0
	fi
	sleep 0.5
done
echo "scripts/start-dockerd.sh: dockerd did not come up in 60 s; see /var/log/paddock-dockerd.log" >&2
tail -20 /var/log/paddock-dockerd.log >&2 || true
exit 1
