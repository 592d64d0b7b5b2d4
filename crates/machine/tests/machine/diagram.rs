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

#[test]
fn every_final_state_is_in_the_final_box_expired_included() {
    let mermaid = grantflow_machine::table::mermaid();
    let final_box = mermaid
        .split("    state Final {\n")
        .nth(1)
        .and_then(|rest| rest.split("    }\n").next())
        .unwrap_or_default();
    let boxed: Vec<&str> = final_box.lines().map(str::trim).collect();
    let finals: Vec<&str> = grantflow_machine::table::final_states()
        .map(grantflow_machine::StateKind::as_str)
        .collect();
    assert_eq!(boxed, finals);
    assert!(finals.contains(&"Expired"));
    let doc = grantflow_machine::table::diagram_markdown();
    for name in finals {
        assert!(
            doc.contains(&format!("| {name} | ")),
            "{name} has no row in the final states"
        );
    }
}

#[test]
fn the_common_path_is_connected_from_the_request() {
    use grantflow_machine::StateKind;
    let mut reached = vec![StateKind::Initial];
    for edge in grantflow_machine::table::COMMON_PATH.map(grantflow_machine::Edge::row) {
        assert!(
            reached.contains(&edge.from),
            "{} starts nowhere on the path",
            edge.edge
        );
        reached.push(edge.to);
    }
    for s in [
        StateKind::Issued,
        StateKind::Rotating,
        StateKind::Revoked,
        StateKind::Expired,
    ] {
        assert!(reached.contains(&s), "{s}");
    }
}
