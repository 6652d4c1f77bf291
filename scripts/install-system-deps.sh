#!/usr/bin/env bash
# Install the Debian packages distrib's test suite uses (headless Chromium for browser tests).
# Safe to run again: it does nothing when they are already there.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-system-deps: need root to install: ${missing[*]}" >&2; exit 1
    fi
else
    SUDO=
fi
echo "install-system-deps: installing ${missing[*]} (Debian packages)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
