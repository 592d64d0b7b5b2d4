#!/usr/bin/env bash
# The engine-overhead figure beside its anchors, measured in one run on one PostgreSQL cluster:
# pgbench -N -c 4 (the machine's commit-rate ceiling for 4 clients), the sqlxmq and apalis drains
# and the raw batched SKIP LOCKED drain of shared/bench-anchors/queue-bench (claim batch 10 and
# 100), then the engine's overhead part (4 workers, grants whose calls complete at once).
# sqlxmq and apalis run only if already built in /tmp/queue-bench/<name> (their builds are
# long: `cd /tmp/queue-bench/<name> && cargo build --release` after copying them there).
#
#   crates/driver/benches/anchors.sh postgres://postgres@127.0.0.1:PORT/postgres [seconds=20]
#
# Point it at a scratch cluster started with initdb defaults (fsync on, synchronous_commit on):
# it creates and drops the databases pgb, raw and grantflow_bench_* there. The raw bench is built
# in /tmp/queue-bench/raw (outside the repo), as the anchors' own run.sh does.
set -euo pipefail
URL=${1:?usage: anchors.sh DATABASE_URL [seconds]}
SECS=${2:-20}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
ANCHORS=${GRANTFLOW_ANCHORS:-$ROOT/../shared/bench-anchors/queue-bench}
base=${URL%/*}

echo "## machine: $(nproc) vCPU; $(psql "$URL" -Atc 'select version()' | cut -d, -f1); fsync=$(psql "$URL" -Atc 'show fsync'), synchronous_commit=$(psql "$URL" -Atc 'show synchronous_commit')"
for db in pgb raw mq ap; do
  psql "$URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" && psql "$URL" -qc "CREATE DATABASE $db"
done

echo "## pgbench -N (simple-update) -c 4 -j 2 -T $SECS, scale 10"
pgbench -i -s 10 -q "$base/pgb" >/dev/null 2>&1
pgbench -N -c 4 -j 2 -T "$SECS" "$base/pgb" 2>&1 | grep -E '^(tps|latency average)'

if [ -x /tmp/queue-bench/sqlxmq/target/release/qb-sqlxmq ]; then
  echo "## sqlxmq 0.6.0 (4 producers, runner max concurrency 32)"
  for f in $(ls ~/.cargo/registry/src/*/sqlxmq-0.6.0/migrations/*.up.sql | sort); do
    psql -q -v ON_ERROR_STOP=1 "$base/mq" -f "$f"
  done
  /tmp/queue-bench/sqlxmq/target/release/qb-sqlxmq "$base/mq" "$SECS" 4 32
fi
if [ -x /tmp/queue-bench/apalis/target/release/qb-apalis ]; then
  echo "## apalis 1.0.0 + apalis-postgres 1.0.0 (4 producers, concurrency 32, fetch batch 100)"
  /tmp/queue-bench/apalis/target/release/qb-apalis "$base/ap" "$SECS" 4 32 100
fi

echo "## raw sqlx SKIP LOCKED loop (queue-bench/raw: 4 producers, 4 workers, claim batch 10 then 100)"
if [ ! -x /tmp/queue-bench/raw/target/release/qb-raw ]; then
  mkdir -p /tmp/queue-bench && rm -rf /tmp/queue-bench/raw && cp -r "$ANCHORS/raw" /tmp/queue-bench/raw
  (cd /tmp/queue-bench/raw && cargo build --release -q)
fi
/tmp/queue-bench/raw/target/release/qb-raw "$base/raw" "$SECS" 4 4 10 1
/tmp/queue-bench/raw/target/release/qb-raw "$base/raw" "$SECS" 4 4 100 1

echo "## grantflow engine overhead (cargo bench -p grantflow-driver --bench engine, part overhead)"
cd "$ROOT"
GRANTFLOW_BENCH=overhead DATABASE_URL="$URL" cargo bench -q -p grantflow-driver --bench engine 2>/dev/null | grep -E '^overhead'
