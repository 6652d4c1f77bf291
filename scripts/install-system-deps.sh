#!/usr/bin/env bash
# Install the Debian packages distrib's test suite uses:
#   chromium        headless browser for the preview, report and web-interface tests (Playwright)
#   postgresql      the PostgreSQL delivery-log adapter's tests (a throwaway cluster per test session)
#   dovecot-imapd   the IMAP mailbox tests (a throwaway Dovecot per test session)
#   postfix         smtp-sink, a second real SMTP server for the sending tests
#   spamassassin    scores the example's messages (spamassassin -t -L, local rules only)
# Safe to run again: it does nothing when they are already there.
set -euo pipefail
missing=()
have_pg() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
have_pg || missing+=(postgresql)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
[ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
command -v spamassassin >/dev/null 2>&1 || missing+=(spamassassin)
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
# Postfix asks how it should deliver mail: it only lends us smtp-sink, so "No configuration".
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
