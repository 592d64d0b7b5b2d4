#!/usr/bin/env bash
# The engine-overhead figure beside its anchors, measured in one run on one PostgreSQL cluster:
# pgbench -N -c 4 (the machine's commit-rate ceiling for 4 clients), the sqlxmq and apalis drains
# and the raw batched SKIP LOCKED drain of shared/bench-anchors/queue-bench (claim batch 10 and
# 100), then the engine's overhead part (4 workers, grants whose calls complete at once).
#
#   crates/driver/benches/anchors.sh [--build-anchors] postgres://postgres@127.0.0.1:PORT/postgres [seconds=20]
#
# The anchors are separate Rust programs outside this repository (queue-bench/{raw,sqlxmq,apalis},
# found through GRANTFLOW_ANCHORS, else `shared/bench-anchors/queue-bench` beside the checkout).
# `--build-anchors` copies them into target/bench-anchors/ and builds them there (release; sqlxmq
# and apalis take several minutes). Without it, each anchor row runs only if its binary is
# already in target/bench-anchors/, and a missing one is named in the output: the pgbench and
# engine rows need nothing but pgbench, psql and cargo.
#
# Point it at a scratch cluster started with initdb defaults (fsync on, synchronous_commit on):
# it creates and drops the databases pgb, raw, mq, ap and grantflow_bench_* there.
set -euo pipefail
BUILD=0
if [ "${1:-}" = --build-anchors ]; then BUILD=1; shift; fi
URL=${1:?usage: anchors.sh [--build-anchors] DATABASE_URL [seconds]}
SECS=${2:-20}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=$ROOT/target/bench-anchors
base=${URL%/*}

anchor_sources() {
  if [ -n "${GRANTFLOW_ANCHORS:-}" ]; then echo "$GRANTFLOW_ANCHORS"; return; fi
  # Beside the checkout, or beside the main checkout when this is a git worktree.
  local common
  common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$ROOT/.git")
  for d in "$ROOT/../shared/bench-anchors/queue-bench" "$(dirname "$common")/../shared/bench-anchors/queue-bench"; do
    [ -d "$d/raw" ] && { (cd "$d" && pwd); return; }
  done
  return 1
}

if [ "$BUILD" = 1 ]; then
  SRC=$(anchor_sources) || { echo "error: queue-bench not found: set GRANTFLOW_ANCHORS to shared/bench-anchors/queue-bench" >&2; exit 1; }
  for name in raw sqlxmq apalis; do
    echo "## building the $name anchor from $SRC/$name into target/bench-anchors/$name"
    rm -rf "${OUT:?}/$name" && mkdir -p "$OUT" && cp -r "$SRC/$name" "$OUT/$name"
    # Its own workspace, not a member of grantflow's (it sits under the repository's target/).
    printf '\n[workspace]\n' >>"$OUT/$name/Cargo.toml"
    (cd "$OUT/$name" && cargo build --release -q --target-dir "$OUT/$name/target")
  done
fi
anchor() { echo "$OUT/$1/target/release/qb-$1"; }
missing() { echo "## $1: not built, row skipped (run anchors.sh --build-anchors to build it into target/bench-anchors/)"; }

echo "## machine: $(nproc) vCPU; $(psql "$URL" -Atc 'select version()' | cut -d, -f1); fsync=$(psql "$URL" -Atc 'show fsync'), synchronous_commit=$(psql "$URL" -Atc 'show synchronous_commit')"
for db in pgb raw mq ap; do
  psql "$URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" && psql "$URL" -qc "CREATE DATABASE $db"
done

echo "## pgbench -N (simple-update) -c 4 -j 2 -T $SECS, scale 10"
pgbench -i -s 10 -q "$base/pgb" >/dev/null 2>&1
pgbench -N -c 4 -j 2 -T "$SECS" "$base/pgb" 2>&1 | grep -E '^(tps|latency average)'

if [ -x "$(anchor sqlxmq)" ]; then
  echo "## sqlxmq 0.6.0 (4 producers, runner max concurrency 32)"
  for f in $(ls ~/.cargo/registry/src/*/sqlxmq-0.6.0/migrations/*.up.sql | sort); do
    psql -q -v ON_ERROR_STOP=1 "$base/mq" -f "$f"
  done
  "$(anchor sqlxmq)" "$base/mq" "$SECS" 4 32
else
  missing "sqlxmq 0.6.0"
fi
if [ -x "$(anchor apalis)" ]; then
  echo "## apalis 1.0.0 + apalis-postgres 1.0.0 (4 producers, concurrency 32, fetch batch 100)"
  "$(anchor apalis)" "$base/ap" "$SECS" 4 32 100
else
  missing "apalis 1.0.0"
fi
if [ -x "$(anchor raw)" ]; then
  echo "## raw sqlx SKIP LOCKED loop (queue-bench/raw: 4 producers, 4 workers, claim batch 10 then 100)"
  "$(anchor raw)" "$base/raw" "$SECS" 4 4 10 1
  "$(anchor raw)" "$base/raw" "$SECS" 4 4 100 1
else
  missing "raw sqlx SKIP LOCKED loop"
fi

echo "## grantflow engine overhead (cargo bench -p grantflow-driver --bench engine, part overhead)"
cd "$ROOT"
GRANTFLOW_BENCH=overhead DATABASE_URL="$URL" cargo bench -q -p grantflow-driver --bench engine 2>/dev/null | grep -E '^overhead'
