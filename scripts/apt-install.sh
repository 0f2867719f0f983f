# Sourced by the install-*.sh scripts once they have found their program missing. Installs the
# Debian packages quietly as root; anyone else is told the command to run instead.
# Usage: apt_install SCRIPT MISSING PACKAGE...  (the first package is the one named to the user)
apt_install() {
  local script=$1 missing=$2
  shift 2
  if [[ $(id -u) -ne 0 ]]; then
    echo "$script: $missing is missing; run as root: apt-get install $1" >&2
    exit 1
  fi
  echo "$script: installing Debian's $1 (about a minute) …" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
