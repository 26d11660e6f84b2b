#!/bin/sh
# Creates (first run) and upgrades (every run) the Temporal server's two PostgreSQL
# databases with the schema tool of the same Temporal release. The password comes from
# SQL_PASSWORD in the environment, never from the command line.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep "${SQL_HOST:-postgres}" -p "${SQL_PORT:-5432}" -u "$SQL_USER" "$@"; }

for db in temporal temporal_visibility; do
  tool --db "$db" create || echo "database $db exists"
done
tool --db temporal setup-schema -v 0.0 || echo "temporal schema present"
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0 || echo "visibility schema present"
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schema up to date"
