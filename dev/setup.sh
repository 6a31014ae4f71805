#!/usr/bin/env bash
# Installs what Flint needs on a fresh Debian/Ubuntu machine: the cross
# toolchains and qemu-user that compile and verify edge binaries, then the
# npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(curl jq gcc gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu libc6-dev-armhf-cross libc6-dev-arm64-cross qemu-user)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then sudo_cmd=(); elif command -v sudo >/dev/null; then sudo_cmd=(sudo); else sudo_cmd=(); fi
  if [ "$(id -u)" = "0" ] || [ ${#sudo_cmd[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} (cross compilers and qemu-user for edge binaries; curl and jq for the README walkthrough)..."
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: cannot install ${missing[*]} without root; edge-binary compilation will fail until they are installed." >&2
  fi
fi

command -v java >/dev/null || { echo "error: Java 17+ is required for DynamoDB Local (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }

# npm 11 runs no dependency install scripts outside package.json's allowScripts, where onnxruntime-node's
# (a CUDA download that fails offline) is denied; the variable keeps it skipped on npm versions without allowScripts.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-fund --no-audit
