"""Sending through an organisation's relay (Microsoft 365, Google Workspace, SES…) and reading
its mailbox.

The package is a set of small, self-contained modules; none of them prints, and none imports
the CLI.  Importing this package is cheap: each module is imported where it is used.

    errors.py    RelayError and its subclasses (part of the DistribError tree)
    presets.py   the providers' hosts, ports and documented limits, and their merge with settings
    cache.py     where OAuth2 tokens are kept: a 0600 file in the user's config folder, or the
                 OS keyring
    oauth.py     TokenProvider: access tokens from MSAL (Microsoft 365) or google-auth (Google
                 Workspace), refreshed automatically; login() and logout()
    sasl.py      the XOAUTH2 and OAUTHBEARER (RFC 7628) responses and error challenges (the
                 exchange runs in distrib's own SMTP client, distrib.send.auth)
    dns.py       SPF, DKIM and DMARC records of the sender's domain (dnspython)
    imap.py      a mailbox on an IMAP server (imapclient): read, then flag what was recorded
"""
