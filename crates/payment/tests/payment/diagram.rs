//! `docs/payment.md` is generated from the exported transition table and must match it, up to
//! the marker below which the driver's part is written by hand (kept when regenerating).

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/payment.md");

/// Where the generated part ends and the hand-written part (the durable driver) begins.
const HAND_WRITTEN: &str =
    "\n<!-- Written by hand below this line (kept by GRANTFLOW_BLESS). -->\n";

#[test]
fn docs_payment_md_is_generated_from_the_table() {
    let generated = grantflow_payment::table::diagram_markdown();
    let on_disk = std::fs::read_to_string(DOC).unwrap_or_default();
    let (head, tail) = on_disk
        .find(HAND_WRITTEN)
        .map_or((on_disk.as_str(), ""), |i| on_disk.split_at(i));
    if std::env::var_os("GRANTFLOW_BLESS").is_some() {
        std::fs::write(DOC, format!("{generated}{tail}")).unwrap();
    } else {
        assert!(
            head == generated,
            "docs/payment.md is out of date with grantflow_payment::TRANSITIONS: regenerate it with \
             `GRANTFLOW_BLESS=1 cargo test -p grantflow-payment --test payment diagram`"
        );
    }
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
