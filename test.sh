#!/usr/bin/env bash
# Runs every test, on a fresh machine too: installs PostgreSQL and Chromium from Debian's packages when missing,
# starts a throwaway cluster for the PostgreSQL half of the suite, runs `dotnet test`, and prints
# "N passed, N failed" as its last line.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "== installing PostgreSQL (Debian packages)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# The browser tests drive Debian's Chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium (Debian package)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# npm for the pages' client libraries (the server's build runs `npm ci`).
if ! command -v npm >/dev/null 2>&1; then
  echo "== installing npm (Debian package)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# A free port on loopback for this run's cluster.
port=${PLUMBLINE_TEST_PG_PORT:-54329}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

pgdir=$(mktemp -d /tmp/plumbline-pg.XXXXXX)
results=$(mktemp -d /tmp/plumbline-results.XXXXXX)
pguser=$(id -un)
run_pg() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres account.
  chown postgres "$pgdir"
  pguser=postgres
  run_pg() { runuser -u postgres -- "$@"; }
fi
cleanup() {
  run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1
  rm -rf "$pgdir"
}
trap cleanup EXIT

echo "== starting PostgreSQL on 127.0.0.1:$port"
run_pg "$pgbin/initdb" -D "$pgdir/data" -U "$pguser" -A trust -E UTF8 --no-locale >/dev/null || { echo "initdb failed"; echo "0 passed, 1 failed"; exit 1; }
run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $pgdir -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$pgdir/log"; echo "0 passed, 1 failed"; exit 1; }
export PLUMBLINE_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=$pguser;Database=postgres"

# The release tests upload to a local S3-compatible server (npm s3rver, pinned in tools/s3rver).
if [ ! -f "$root/tools/s3rver/node_modules/s3rver/bin/s3rver.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "== installing Node.js and npm (Debian packages)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "== npm ci (tools/s3rver)"
  (cd "$root/tools/s3rver" && npm ci --no-audit --no-fund --silent) || echo "npm ci in tools/s3rver failed; the S3 release tests will fail"
fi

echo "== dotnet build"
status=0
dotnet build "$root/Plumbline.slnx" -v q -nologo || status=$?
if [ "$status" -eq 0 ]; then
  # One results folder per test project, so two reports can never share a file name.
  for project in "$root"/tests/*/*.csproj; do
    name=$(basename "$project" .csproj)
    echo "== dotnet test $name"
    dotnet test "$project" --no-build --logger trx --results-directory "$results/$name" "$@" || status=$?
  done
fi

passed=0; failed=0
for trx in "$results"/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
# A build failure runs no test: count it as a failure so it cannot pass for green.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
rm -rf "$results"
echo "$passed passed, $failed failed"
exit "$status"
