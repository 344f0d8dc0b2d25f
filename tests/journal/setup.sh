#!/bin/sh
# Test fixture for journal_web: makes sure lighttpd, chromium, asciinema (optional) and
# playwright-core (npm, into the build tree given as $1) are there. Installs only what is
# missing, so after the first run it costs nothing.
set -u
node_dir=${1:?usage: setup.sh NODE_DIR}
need=""
command -v lighttpd >/dev/null 2>&1 || need="$need lighttpd"
command -v chromium >/dev/null 2>&1 || need="$need chromium chromium-driver"
command -v asciinema >/dev/null 2>&1 || need="$need asciinema"
if [ -n "$need" ]; then
    echo "journal setup: installing$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y $need >/dev/null 2>&1 ||
        echo "journal setup: apt-get install$need failed (tests needing them will say so)"
fi
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
    mkdir -p "$node_dir" && cd "$node_dir" &&
        npm install --no-audit --no-fund --silent playwright-core@1 >/dev/null 2>&1 ||
        echo "journal setup: npm install playwright-core failed (browser checks will fail)"
fi
command -v lighttpd >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1
