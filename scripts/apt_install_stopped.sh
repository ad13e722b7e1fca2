#!/usr/bin/env bash
# apt-get install -y "$@" with the services the packages bring kept from starting:
# for the time of the install, policy-rc.d answers their postinst 101, "action
# forbidden" (used by install_nginx.sh and install_prometheus.sh, whose tests start
# servers of their own on free loopback ports).
set -euo pipefail
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
