#!/usr/bin/env bash
# Make sure the real services the tests talk to are up, installing what is missing.
# PostgreSQL: start the machine's cluster if it is installed but stopped, else install it.
set -euo pipefail

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  # Trust local loopback connections (tests connect as postgres without a password).
  if ! grep -q "vstage-test" "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # vstage-test\nhost all all ::1/128 trust # vstage-test\nlocal all all trust # vstage-test' "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { echo "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test"
echo "PostgreSQL ready on 127.0.0.1:5432"

# Chromium for the Playwright browser tests (tests/web): Debian's package, never a
# browser download (`playwright install` cannot reach its servers here).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "Chromium ready: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
