"""The statements both SQL adapters share: what SQLite and PostgreSQL understand alike.

`store.SQLLog` implements the port (`distrib.deliverylog.port`) over a `backend.Backend`, which
each adapter provides: its connection, its transactions and locks, its errors, its schema
(`distrib.deliverylog.sqlite`, `distrib.deliverylog.postgres`).  Statements are written with
``?`` placeholders; the PostgreSQL backend rewrites them for psycopg.
"""
