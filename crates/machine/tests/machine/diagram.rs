//! `docs/machine.md` is generated from the exported transition table and must match it.

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/machine.md");

#[test]
fn docs_machine_md_is_generated_from_the_table() {
    let generated = grantflow_machine::table::diagram_markdown();
    if std::env::var_os("GRANTFLOW_BLESS").is_some() {
        std::fs::write(DOC, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/machine.md is out of date with grantflow_machine::TRANSITIONS: regenerate it with \
         `GRANTFLOW_BLESS=1 cargo test -p grantflow-machine --test machine diagram`"
    );
}

#[test]
fn every_state_but_initial_appears_in_the_diagram() {
    let mermaid = grantflow_machine::table::mermaid();
    for s in grantflow_machine::StateKind::ALL {
        if s != grantflow_machine::StateKind::Initial {
            assert!(mermaid.contains(s.as_str()), "{s}");
        }
    }
    assert!(mermaid.starts_with("stateDiagram-v2\n"));
}
