#!/usr/bin/env bash
# System packages the test suite needs on Debian 12: h5py (independent cross-checks of HDF5
# values), OpenSSH server and client (SSH executor tests on loopback), Slurm (one-node
# cluster for the Slurm executor tests), chromium and a font (the report's browser tests and
# npm run docs:screenshots; playwright-core drives it, it downloads no browser), gcc and
# libc6-dev (small real ELF binaries for doctor and hosts setup: recorded -march flags, a
# missing shared library; binutils' readelf comes with gcc and cross-checks the ELF reader).
# `script`, used to run the CLI under a pseudo-terminal, comes with Debian's essential bsdutils;
# ldd with libc-bin. The library package test asks apt-cache, so apt's lists must be present.
# Runs apt-get as root, or through sudo.
set -euo pipefail
packages=(python3-h5py python3-numpy python3-scipy openssh-server openssh-client slurmctld slurmd slurm-client procps chromium fonts-dejavu-core gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
lists=yes
compgen -G "/var/lib/apt/lists/*_Packages*" > /dev/null || lists=no
if [ ${#missing[@]} -eq 0 ] && [ "$lists" = yes ]; then
  echo "install-test-deps: all system packages present"
  exit 0
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "install-test-deps: installed ${missing[*]}"
fi
