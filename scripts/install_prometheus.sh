#!/usr/bin/env bash
# Installs Debian's prometheus package for the metrics test (tests/datatalks/
# test_prometheus.py), when it is missing. The test starts a server of its own on a
# free loopback port; the package's system service must not run: it is kept from
# starting on install (policy-rc.d), and stopped and disabled if it started anyway.
set -euo pipefail
command -v prometheus >/dev/null && exit 0
"$(dirname "$0")/apt_install_stopped.sh" --no-install-recommends prometheus
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl disable --now prometheus || true
elif [ -x /etc/init.d/prometheus ]; then
  /etc/init.d/prometheus stop || true
fi
