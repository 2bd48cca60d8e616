#!/usr/bin/env bash
# Install the Debian 12 packages that `make deb` and `make dist` need:
# Debian's packaging tools, lintian, and the Build-Depends of debian/control.
# With --test (make test-packages), also the PostgreSQL 15 server the test's
# own cluster runs on, without letting it create a main cluster.
# Installs only what is missing; needs root (or sudo) when something is.
# The from-source route (scripts/deps.sh) needs none of these.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
TEST=false
[ "${1:-}" = --test ] && TEST=true

PKGS=(make dpkg-dev debhelper devscripts lintian fakeroot help2man
      postgresql-server-dev-all git zip unzip python3 curl openssl)
$TEST && PKGS+=(postgresql-15 postgresql-client-15 binutils util-linux)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

updated=false
apt_update() { $updated || { $SUDO apt-get update -qq; updated=true; }; }

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps-packaging: installing ${missing[*]}"
	# A test machine: the server package must not create and start a cluster.
	if $TEST && { [ ! -e /etc/postgresql-common/createcluster.conf ] ||
		! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; }; then
		$SUDO mkdir -p /etc/postgresql-common
		echo 'create_main_cluster = false' | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
	fi
	apt_update
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The rest of debian/control's Build-Depends (one list, kept in one place).
if ! (cd "$REPO" && dpkg-checkbuilddeps >/dev/null 2>&1); then
	echo "deps-packaging: installing the Build-Depends of debian/control"
	apt_update
	$SUDO apt-get build-dep -y -qq --no-install-recommends "$REPO" >/dev/null
fi
