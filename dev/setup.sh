#!/usr/bin/env bash
# Installs what Flint needs on a fresh Debian/Ubuntu machine: the cross
# toolchains and qemu-user that compile and verify edge binaries, the database
# servers that the database connectors' tests and benchmarks run against,
# chromium (the dashboard's end-to-end tests drive /usr/bin/chromium with
# playwright-core, which downloads no browser of its own), then the npm
# dependencies. Safe to run again.
#
# postgresql (server 15), mariadb-server and influxdb (1.6, the InfluxQL HTTP
# API) are there only for their binaries: test/support/servers.ts starts a
# throwaway instance of each in a temp dir on 127.0.0.1 on a free port, so a
# system instance that the package may start on its default port (5432, 3306,
# 8086/8088) collides with nothing. Those system instances are stopped below
# anyway, so that they don't take memory and CPU from the test run.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(curl jq gcc gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu libc6-dev-armhf-cross libc6-dev-arm64-cross qemu-user
  postgresql mariadb-server influxdb chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then sudo_cmd=(); elif command -v sudo >/dev/null; then sudo_cmd=(sudo); else sudo_cmd=(); fi
  if [ "$(id -u)" = "0" ] || [ ${#sudo_cmd[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} (cross compilers and qemu-user for edge binaries; database servers for the connectors' tests and benchmarks; chromium for the dashboard's end-to-end tests; curl and jq for the README walkthrough)..."
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages' own system instances are not used (see above): stop any that the install started.
    for service in postgresql mariadb influxdb; do
      "${sudo_cmd[@]}" service "$service" stop >/dev/null 2>&1 || true
    done
  else
    echo "warning: cannot install ${missing[*]} without root; edge-binary compilation, the database connectors' tests and the dashboard's end-to-end tests will fail until they are installed." >&2
  fi
fi

command -v java >/dev/null || { echo "error: Java 17+ is required for DynamoDB Local (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }

# npm 11 runs no dependency install scripts outside package.json's allowScripts, where onnxruntime-node's
# (a CUDA download that fails offline) is denied; the variable keeps it skipped on npm versions without allowScripts.
# better-sqlite3's is allowed: its prebuilt download fails offline too, and it then builds from source with node-gyp
# (python3, make, g++ and Node's own headers, which the machine's npm config points node-gyp at: nodedir=/usr), which
# takes about two minutes on two cores.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-fund --no-audit
