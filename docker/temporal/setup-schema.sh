#!/bin/sh
# One-shot job of docker/compose.yaml (service `temporal-schema`, image temporalio/admin-tools):
# create Temporal's two PostgreSQL databases when missing and bring their schemas to the
# version the admin-tools image ships (the same version as temporalio/server).
#
# Safe to run on every `docker compose up`: `create` leaves an existing database alone,
# `setup-schema -v 0.0` only adds the version tables when missing, and `update-schema` applies
# just the versions not yet applied. Upgrading Temporal = bump both image tags together; this
# job then migrates the schema before the new server starts.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (host of Temporal's PostgreSQL) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD (read by temporal-sql-tool) is required}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

migrate() {
    database="$1"
    versions="$2"
    echo "temporal-schema: database ${database}"
    set -- temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
        -u "$POSTGRES_USER" --db "$database"
    "$@" create
    "$@" setup-schema -v 0.0
    "$@" update-schema -d "$versions"
}

migrate "${DBNAME:-temporal}" "$SCHEMA_DIR/temporal/versioned"
migrate "${VISIBILITY_DBNAME:-temporal_visibility}" "$SCHEMA_DIR/visibility/versioned"
echo "temporal-schema: done"
