//! `docs/schedule.md` is generated from the exported transition table and must match it.

use grantflow_payment::schedule::{ScheduleStateKind, table};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schedule.md");

#[test]
fn docs_schedule_md_is_generated_from_the_table() {
    let generated = table::diagram_markdown();
    if std::env::var_os("GRANTFLOW_BLESS").is_some() {
        std::fs::write(DOC, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/schedule.md is out of date with grantflow_payment::schedule::TRANSITIONS: \
         regenerate it with `GRANTFLOW_BLESS=1 cargo test -p grantflow-payment --test schedule diagram`"
    );
}

#[test]
fn every_state_but_initial_appears_in_the_diagram() {
    let mermaid = table::mermaid();
    for s in ScheduleStateKind::ALL {
        if s != ScheduleStateKind::Initial {
            assert!(mermaid.contains(s.as_str()), "{s}");
        }
    }
}
