#!/usr/bin/env bash
# Install the Debian 12 packages mtmcp needs to build, run and test.
# Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail

PKGS=(make gcc clang libclang-rt-14-dev pkg-config openssl curl
      postgresql-15 postgresql-client-15 postgresql-server-dev-15
      libssl-dev libjson-c-dev libmicrohttpd-dev libpq-dev
      pgbouncer python3 postgresql-15-plproxy jq)
# Node.js and npm drive the end-to-end tests; a machine that has them
# (from anywhere) keeps its own.
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Do not let the Debian package create and start its own cluster.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; then
	$SUDO mkdir -p /etc/postgresql-common
	echo 'create_main_cluster = false' | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
