#!/usr/bin/env bash
# System packages the test suite needs on Debian 12: h5py (independent cross-checks of HDF5
# values), OpenSSH server and client (SSH executor tests on loopback), Slurm (one-node
# cluster for the Slurm executor tests), chromium and a font (the report's browser tests and
# npm run docs:screenshots; playwright-core drives it, it downloads no browser). `script`, used
# to run the CLI under a pseudo-terminal, comes with Debian's essential bsdutils. Runs apt-get
# as root, or through sudo.
set -euo pipefail
packages=(python3-h5py python3-numpy python3-scipy openssh-server openssh-client slurmctld slurmd slurm-client procps chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all system packages present"
  exit 0
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-test-deps: installed ${missing[*]}"
