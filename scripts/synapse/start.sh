#!/usr/bin/env bash
# Runs a throw-away Synapse for Hearth's Matrix tests, in the foreground (exec), on 127.0.0.1 only.
#
#   scripts/synapse/start.sh DATA_DIR PORT SHARED_SECRET
#
# Writes DATA_DIR/homeserver.yaml (SQLite, no federation, media repo with authenticated media,
# relaxed rate limits) on first use, generates the signing key, then execs Synapse so the caller's
# process handle is Synapse itself (SIGTERM stops it). server_name is "localhost", so user ids look
# like @bot:localhost. M_LIMIT_EXCEEDED can still be provoked per user through the admin API
# (POST /_synapse/admin/v1/users/<id>/override_ratelimit) because only the defaults are relaxed.
set -euo pipefail

DATA_DIR="${1:?usage: start.sh DATA_DIR PORT SHARED_SECRET}"
PORT="${2:?usage: start.sh DATA_DIR PORT SHARED_SECRET}"
SECRET="${3:?usage: start.sh DATA_DIR PORT SHARED_SECRET}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$("$HERE/setup.sh" | tail -n 1)"

mkdir -p "$DATA_DIR/media_store"
CONFIG="$DATA_DIR/homeserver.yaml"

if [ ! -f "$CONFIG" ]; then
  rand() { "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))'; }
  cat > "$DATA_DIR/log.yaml" <<LOG
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $DATA_DIR/homeserver.log
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
LOG
  # Generous defaults so a test burst never trips a limiter by accident.
  big='{per_second: 1000, burst_count: 1000}'
  cat > "$CONFIG" <<CONF
server_name: "localhost"
public_baseurl: "http://127.0.0.1:$PORT/"
pid_file: "$DATA_DIR/homeserver.pid"
listeners:
  - port: $PORT
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$DATA_DIR/homeserver.db"
log_config: "$DATA_DIR/log.yaml"
media_store_path: "$DATA_DIR/media_store"
enable_media_repo: true
enable_authenticated_media: true
max_upload_size: 50M
url_preview_enabled: false
registration_shared_secret: "$SECRET"
enable_registration: false
report_stats: false
macaroon_secret_key: "$(rand)"
form_secret: "$(rand)"
signing_key_path: "$DATA_DIR/signing.key"
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
rc_message: $big
rc_registration: $big
rc_login:
  address: $big
  account: $big
  failed_attempts: $big
rc_joins:
  local: $big
  remote: $big
rc_joins_per_room: $big
rc_invites:
  per_room: $big
  per_user: $big
  per_issuer: $big
rc_admin_redaction: $big
rc_key_requests: $big
rc_media_create: $big
rc_3pid_validation: $big
CONF
  "$VENV/bin/python" -m synapse.app.homeserver -c "$CONFIG" --generate-keys >/dev/null
fi

exec "$VENV/bin/python" -m synapse.app.homeserver -c "$CONFIG"
