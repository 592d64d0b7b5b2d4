//! `docs/payment.md` is generated from the exported transition table and must match it.

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/payment.md");

#[test]
fn docs_payment_md_is_generated_from_the_table() {
    let generated = grantflow_payment::table::diagram_markdown();
    if std::env::var_os("GRANTFLOW_BLESS").is_some() {
        std::fs::write(DOC, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/payment.md is out of date with grantflow_payment::TRANSITIONS: regenerate it with \
         `GRANTFLOW_BLESS=1 cargo test -p grantflow-payment --test payment diagram`"
    );
}

#[test]
fn every_state_but_initial_appears_in_the_diagram() {
    let mermaid = grantflow_payment::table::mermaid();
    for s in grantflow_payment::PaymentStateKind::ALL {
        if s != grantflow_payment::PaymentStateKind::Initial {
            assert!(mermaid.contains(s.as_str()), "{s}");
        }
    }
}
