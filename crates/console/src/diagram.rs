//! The lifecycle diagram, drawn from [`TRANSITIONS`] with one grant's path marked: an inline SVG
//! (states placed by hand, one arrow per pair of states, self-loops left to the table) and the
//! full table of edges, each taken edge marked in words as well as in colour. Both work without
//! JavaScript; the table is what a screen reader uses (the SVG has a text alternative).
//!
//! SVG elements are written with explicit end tags (`rect ... {}`): inside `<svg>` an HTML parser
//! does not close a `<rect>` by itself, and everything after it would become its child.

use std::collections::BTreeMap;

use grantflow_machine::{Edge, StateKind, TRANSITIONS};
use maud::{Markup, html};

const BOX_W: f64 = 150.0;
const BOX_H: f64 = 34.0;
const COL: f64 = 196.0;
const ROW: f64 = 96.0;
const MARGIN: f64 = 12.0;

/// Where a state sits: (column, row), columns may be halves.
fn place(kind: StateKind) -> (f64, f64) {
    use StateKind as S;
    match kind {
        S::Initial => (0.0, 0.0),
        S::Requested => (1.0, 0.0),
        S::AwaitingInteraction => (2.0, 0.0),
        S::Continuing => (3.0, 0.0),
        S::Issued => (4.0, 0.0),
        S::Rotating => (5.0, 0.0),
        S::Canceling => (2.5, 1.0),
        S::Revoking => (4.5, 1.0),
        S::Rejected => (0.0, 2.0),
        S::Canceled => (1.0, 2.0),
        S::Expired => (2.0, 2.0),
        S::Lost => (3.0, 2.0),
        S::Failed => (4.0, 2.0),
        S::Revoked => (5.0, 2.0),
    }
}

fn center(kind: StateKind) -> (f64, f64) {
    let (c, r) = place(kind);
    (
        MARGIN + c * COL + BOX_W / 2.0,
        MARGIN + 18.0 + r * ROW + BOX_H / 2.0,
    )
}

/// Where the segment from the center of `from` towards `to` leaves `from`'s box.
fn border(from: (f64, f64), to: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let tx = if dx == 0.0 {
        f64::INFINITY
    } else {
        (BOX_W / 2.0 + 3.0) / dx.abs()
    };
    let ty = if dy == 0.0 {
        f64::INFINITY
    } else {
        (BOX_H / 2.0 + 3.0) / dy.abs()
    };
    let t = tx.min(ty);
    (from.0 + dx * t, from.1 + dy * t)
}

/// The diagram with the `taken` edges marked (in order; repeats count).
pub(crate) fn diagram(taken: &[Edge]) -> Markup {
    let mut count: BTreeMap<Edge, usize> = BTreeMap::new();
    for e in taken {
        *count.entry(*e).or_default() += 1;
    }
    let visited: Vec<StateKind> = std::iter::once(StateKind::Initial)
        .chain(taken.iter().map(|e| e.row().to))
        .collect();
    // One arrow per (from, to) pair of different states, marked if any of its edges was taken.
    let mut arrows: Vec<(StateKind, StateKind, bool)> = Vec::new();
    for t in TRANSITIONS.iter().filter(|t| t.from != t.to) {
        let hit = count.contains_key(&t.edge);
        match arrows
            .iter_mut()
            .find(|(f, to, _)| (*f, *to) == (t.from, t.to))
        {
            Some(a) => a.2 |= hit,
            None => arrows.push((t.from, t.to, hit)),
        }
    }
    // Taken arrows last, so they are drawn on top.
    arrows.sort_by_key(|a| a.2);
    let width = MARGIN * 2.0 + 5.0 * COL + BOX_W;
    let height = MARGIN * 2.0 + 18.0 + 2.0 * ROW + BOX_H;
    let path_words = path_in_words(&visited);
    html! {
        figure.diagram {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (width) " " (height)}
                role="img" aria-labelledby="diagram-caption" {
                defs {
                    marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
                        markerHeight="7" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" {}
                    }
                    marker #arrow-taken viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
                        markerHeight="7" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead taken" {}
                    }
                }
                @for (from, to, hit) in &arrows {
                    @let both_ways = arrows.iter().any(|(f, t, _)| (*f, *t) == (*to, *from));
                    (arrow(*from, *to, *hit, both_ways))
                }
                @for kind in StateKind::ALL {
                    @let (c, r) = place(kind);
                    @let x = MARGIN + c * COL;
                    @let y = MARGIN + 18.0 + r * ROW;
                    @let class = if visited.contains(&kind) { "state visited" } else if kind.is_final() { "state final" } else { "state" };
                    g class=(class) {
                        rect x=(x) y=(y) width=(BOX_W) height=(BOX_H) rx="6" {}
                        text x=(x + BOX_W / 2.0) y=(y + BOX_H / 2.0 + 5.0) text-anchor="middle" { (kind.as_str()) }
                    }
                }
            }
            figcaption #diagram-caption {
                "This grant's path: " (path_words)
                ". Marked states and arrows are the ones it took; the table below lists every edge."
            }
        }
        details.edges {
            summary { "Every edge of the lifecycle (" (TRANSITIONS.len()) "), taken ones marked" }
            table {
                caption { "The transition table; “taken” counts this grant's transitions along each edge." }
                thead { tr { th scope="col" { "Edge" } th scope="col" { "From" } th scope="col" { "Event" } th scope="col" { "To" } th scope="col" { "When" } th scope="col" { "Taken" } } }
                tbody {
                    @for t in TRANSITIONS {
                        @let n = count.get(&t.edge).copied().unwrap_or(0);
                        tr class=[(n > 0).then_some("taken")] {
                            th scope="row" { code { (t.edge.as_str()) } }
                            td { (t.from.as_str()) }
                            td { code { (t.event.as_str()) } }
                            td { (t.to.as_str()) }
                            td { (t.when) }
                            td { @if n > 0 { strong { "taken" @if n > 1 { " ×" (n) } } } }
                        }
                    }
                }
            }
        }
    }
}

/// The arrow `from -> to`; `both_ways`: there is one back too, so each is moved a little to its
/// left and the two stay apart.
fn arrow(from: StateKind, to: StateKind, taken: bool, both_ways: bool) -> Markup {
    let (mut a, mut b) = (center(from), center(to));
    if both_ways {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (nx, ny) = (dy / length * 5.0, -dx / length * 5.0);
        a = (a.0 + nx, a.1 + ny);
        b = (b.0 + nx, b.1 + ny);
    }
    let start = border(a, b);
    let end = border(b, a);
    let class = if taken { "edge taken" } else { "edge" };
    let marker = if taken {
        "url(#arrow-taken)"
    } else {
        "url(#arrow)"
    };
    // Arrows between states of one row that are not neighbours bend above it, so they do not
    // cross the boxes in between; their ends leave from the top of the boxes.
    let same_row = (a.1 - b.1).abs() < 1.0 && (a.0 - b.0).abs() > COL * 1.5;
    if same_row {
        let top = a.1 - BOX_H / 2.0 - 3.0;
        let lift = 14.0 + (b.0 - a.0).abs() / COL * 4.0;
        let d = format!(
            "M {} {} C {} {} {} {} {} {}",
            a.0,
            top,
            a.0,
            top - lift,
            b.0,
            top - lift,
            b.0,
            top
        );
        html! { path class=(class) d=(d) fill="none" marker-end=(marker) {} }
    } else {
        html! {
            line class=(class) x1=(start.0) y1=(start.1) x2=(end.0) y2=(end.1) marker-end=(marker) {}
        }
    }
}

/// `Initial → Requested → AwaitingInteraction → ...`, each state once per visit.
fn path_in_words(visited: &[StateKind]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for kind in visited {
        if words.last() != Some(&kind.as_str()) {
            words.push(kind.as_str());
        }
    }
    words.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_place() {
        for a in StateKind::ALL {
            for b in StateKind::ALL {
                assert!(a == b || place(a) != place(b), "{a} and {b} overlap");
            }
        }
    }

    #[test]
    fn taken_edges_are_marked_in_words_and_the_path_is_said() {
        let taken = [
            Edge::RequestSent,
            Edge::PendingWithFinish,
            Edge::FinishVerified,
            Edge::ContinueAmbiguous,
            Edge::ContinueAmbiguous,
            Edge::ContinueIssued,
        ];
        let html = diagram(&taken).into_string();
        assert!(
            html.contains("Initial → Requested → AwaitingInteraction → Continuing → Issued"),
            "{html}"
        );
        assert!(html.contains("<strong>taken ×2</strong>"), "{html}");
        assert_eq!(html.matches("<tr class=\"taken\">").count(), 5);
        assert_eq!(html.matches("<tr").count(), TRANSITIONS.len() + 1);
        // Every SVG element is closed explicitly.
        assert_eq!(
            html.matches("<rect ").count(),
            html.matches("</rect>").count()
        );
        assert_eq!(
            html.matches("<line ").count(),
            html.matches("</line>").count()
        );
    }
}
