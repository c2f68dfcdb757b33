#!/usr/bin/env bash
# Set up Quartier on a fresh Debian/Ubuntu machine: system packages (when run as root),
# a virtual environment in .venv, and the package itself. Safe to run again.
#   scripts/setup.sh          what running Quartier needs
#   scripts/setup.sh --test   plus what the test suite needs (PostGIS, test tools)
#   scripts/setup.sh --bench  plus what the benchmarks in bench/ need (wrk, mosquitto_sub)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
want_bench=false
[ "${1:-}" = "--test" ] && want_test=true
[ "${1:-}" = "--bench" ] && want_test=true && want_bench=true

log() { printf 'setup: %s\n' "$*" >&2; }

apt_retry() {
    # apt-get, tried again for up to ten minutes while another apt-get holds its locks.
    local tries=0
    until apt-get -o DPkg::Lock::Timeout=60 "$@"; do
        tries=$((tries + 1))
        [ "$tries" -ge 60 ] && return 1
        log "apt-get is busy elsewhere; trying again in 10 s"
        sleep 10
    done
}

apt_install() {
    # Installs Debian packages that are missing, when we may (root with apt-get).
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        log "please install these packages: ${missing[*]}"
        return 0
    fi
    log "installing ${missing[*]}"
    # Another apt-get (an unattended upgrade, a second setup) may hold apt's locks: wait.
    apt_retry update -qq
    DEBIAN_FRONTEND=noninteractive apt_retry install -y -qq "${missing[@]}" >/dev/null
}

if $want_test && [ -d /usr/lib/postgresql ]; then
    # PostGIS for the PostgreSQL server the tests use, matching its major version.
    for version_dir in /usr/lib/postgresql/*; do
        apt_install "postgresql-$(basename "$version_dir")-postgis-3"
    done
    if command -v pg_lsclusters >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
        log "starting the local PostgreSQL cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
fi

if $want_test; then
    # The dashboard's browser tests drive Debian's Chromium through Playwright.
    apt_install chromium
fi

if $want_bench; then
    # HTTP load (bench_sensorthings, bench_lorawan) and the MQTT benchmark's C subscriber.
    apt_install wrk mosquitto-clients
fi

# The dashboard's front-end libraries come from the npm registry, pinned by
# package-lock.json, and are copied into the package's static folder: at run time every
# script and style is served by Quartier itself, never fetched from a CDN.
command -v npm >/dev/null || apt_install npm
if command -v npm >/dev/null; then
    log "installing the dashboard's front-end libraries (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    vendor=src/quartier/web/static/vendor
    rm -rf "$vendor"
    mkdir -p "$vendor/leaflet" "$vendor/markercluster" "$vendor/uplot"
    cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
          node_modules/leaflet/dist/images node_modules/leaflet/LICENSE "$vendor/leaflet/"
    cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
       node_modules/leaflet.markercluster/dist/MarkerCluster.css \
       node_modules/leaflet.markercluster/MIT-LICENCE.txt "$vendor/markercluster/"
    cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css \
       node_modules/uplot/LICENSE "$vendor/uplot/"
else
    log "npm is missing: the dashboard at / will lack its map and chart libraries"
fi

if $want_test; then
    # The MQTT tests talk to a Mosquitto broker on 127.0.0.1:1883 and start private ones.
    apt_install mosquitto
    if command -v mosquitto >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        log "starting Mosquitto on 127.0.0.1:1883"
        if [ -f /etc/mosquitto/mosquitto.conf ]; then
            mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
        else
            mosquitto -d -p 1883 || true
        fi
    fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    log "Quartier needs Python 3.11 or newer; $("$python" --version 2>&1) found"
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$python" -m venv .venv
fi
extras=""
$want_test && extras="[test]"
log "installing quartier$extras into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" 2>&1 \
    | grep -v -e "^WARNING: Location" || true
.venv/bin/python -c "import quartier" || { log "installation failed"; exit 1; }
