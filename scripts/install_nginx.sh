#!/usr/bin/env bash
# Installs nginx from Debian's packages when it is missing (.ci/run, make soak), without
# leaving Debian's own nginx service running on port 80: the soak test starts its own
# nginx, unprivileged, on a free loopback port (deploy/nginx.conf).
set -euo pipefail
[ -x /usr/sbin/nginx ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "nginx is missing: install it (apt-get install -y nginx) as root" >&2
  exit 1
fi
"$(dirname "$0")/apt_install_stopped.sh" nginx
# Where an init system started it anyway (no policy-rc.d honoured), stop and disable it.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  systemctl disable --now nginx
elif [ -s /run/nginx.pid ]; then
  /usr/sbin/nginx -s quit || true
fi
