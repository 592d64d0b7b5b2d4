//! A full interactive lifecycle through the machine: request -> pending -> finish callback (hash
//! verified) -> continue -> issued -> rotate (on demand) -> rotated. Seven transitions per
//! iteration; the events are built outside the measured routine (they come from parsing HTTP
//! answers in the driver), the transitions (state sharing, hash verification, effects, dropping
//! the states left behind) are measured, in batches of 64 lifecycles (inputs stay in cache, timer cost amortized).
//!
//! `cargo bench -p grantflow-machine` reports the time per lifecycle and, as throughput,
//! transitions per second ("elem/s").

use chrono::TimeDelta;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use grantflow_machine::{Config, Event, GrantState, transition};
use grantflow_protocol::finish_hash::FinishHashEncoding;

#[path = "../tests/machine/common.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// fixtures: a panic there is a broken bench
mod common;

use common::*;

/// The events of one lifecycle and the instant each arrives.
fn lifecycle_events() -> Vec<(Event, chrono::DateTime<chrono::Utc>)> {
    let s = |n: i64| t0() + TimeDelta::seconds(n);
    vec![
        (request(Flow::Interactive), s(0)),
        (pending(Some(5)), s(0)),
        (
            callback(&interact_ref(1), FinishHashEncoding::PaddedBase64),
            s(20),
        ),
        (Event::Wake, s(20)),
        (issued(1, Some(600)), s(20)),
        (Event::RotateNow, s(600)),
        (rotated(2, Some(600)), s(600)),
    ]
}

fn run_lifecycle(
    events: Vec<(Event, chrono::DateTime<chrono::Utc>)>,
    config: &Config,
) -> GrantState {
    let mut state = GrantState::Initial;
    for (event, now) in events {
        match transition(&state, event, now, config) {
            Ok(t) => state = t.state,
            Err(e) => panic!("the lifecycle is valid: {e}"),
        }
    }
    state
}

fn lifecycle(c: &mut Criterion) {
    let config = Config::default();
    let template = lifecycle_events();
    // Sanity: the lifecycle ends issued with the rotated token.
    let end = run_lifecycle(template.clone(), &config);
    assert_eq!(
        end.access_token().map(|t| t.manage.clone()),
        Some(manage_url(2))
    );

    let mut group = c.benchmark_group("machine");
    group.throughput(Throughput::Elements(template.len() as u64));
    group.bench_function("interactive_lifecycle_request_issued_rotated", |b| {
        b.iter_batched(
            || template.clone(),
            |events| run_lifecycle(events, &config),
            BatchSize::NumIterations(64),
        )
    });
    group.finish();

    // For scale: the finish-hash verification alone (one of the seven transitions runs it).
    let mut group = c.benchmark_group("protocol");
    let hash = grantflow_protocol::finish_hash::finish_hash(
        CLIENT_NONCE,
        AS_NONCE,
        &interact_ref(1),
        ENDPOINT,
        FinishHashEncoding::PaddedBase64,
    );
    let reference = interact_ref(1);
    group.bench_function("verify_finish_hash_padded_base64", |b| {
        b.iter(|| {
            grantflow_protocol::finish_hash::verify_finish_hash(
                std::hint::black_box(&hash),
                CLIENT_NONCE,
                AS_NONCE,
                &reference,
                ENDPOINT,
            )
        })
    });
    group.finish();
}

// `criterion_group!` generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, lifecycle);
}
use group::benches;
criterion_main!(benches);
