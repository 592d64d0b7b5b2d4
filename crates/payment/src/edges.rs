//! What the payment and schedule transition tables share: the row type, the macro that declares
//! a table one line per edge, the lookups on a table and its Mermaid diagram.
//!
//! `transition_table!` expands, for each line `Name: From --Event--> To, "condition";`, to one
//! documented variant of the edge enum, its [`Row`] (`Edge::row`), its name (`Edge::as_str`), and
//! the `TRANSITIONS` slice of every row in table order: nothing else.

use std::fmt::Display;

/// One edge of a transition table: `from --(event, when)--> to`, named `edge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Row<N, S, E> {
    /// The edge's name.
    pub edge: N,
    /// The state before.
    pub from: S,
    /// The event.
    pub event: E,
    /// The state after.
    pub to: S,
    /// The condition that selects this edge among those with the same `from` and `event`.
    pub when: &'static str,
}

/// Declares a transition table (see the module's documentation). `$Edge` is the edge enum to
/// write, `$State` and `$Event` the kind enums the rows use.
macro_rules! transition_table {
    (
        machine: $machine:literal, edge: $Edge:ident, state: $State:ident, event: $Event:ident;
        $( $edge:ident : $from:ident --$event:ident--> $to:ident, $when:literal; )*
    ) => {
        #[doc = concat!("The name of one edge of the ", $machine, " machine. Its row is [`", stringify!($Edge), "::row`].")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $Edge {
            $(
                #[doc = concat!("`", stringify!($from), " --", stringify!($event), "--> ", stringify!($to), "`: ", $when)]
                $edge,
            )*
        }

        impl $Edge {
            /// This edge's row of the table.
            pub const fn row(self) -> $crate::edges::Row<$Edge, $State, $Event> {
                match self {
                    $( Self::$edge => $crate::edges::Row {
                        edge: Self::$edge,
                        from: $State::$from,
                        event: $Event::$event,
                        to: $State::$to,
                        when: $when,
                    }, )*
                }
            }

            /// The edge's name, as in the table.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$edge => stringify!($edge), )*
                }
            }

            /// Whether this edge leaves `from` on `event` and reaches `to`.
            pub fn connects(self, from: $State, event: $Event, to: $State) -> bool {
                let row = self.row();
                row.from == from && row.event == event && row.to == to
            }
        }

        impl std::fmt::Display for $Edge {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[doc = concat!("Every edge of the ", $machine, " machine, in table order. An event with no edge for a state is refused with a typed error and changes nothing; final states absorb everything.")]
        pub const TRANSITIONS: &[$crate::edges::Row<$Edge, $State, $Event>] = &[ $( $Edge::$edge.row(), )* ];
    };
}
pub(crate) use transition_table;

/// Whether `rows` has any edge for `event` in state `from`.
pub(crate) fn accepts<N, S: PartialEq, E: PartialEq>(
    rows: &[Row<N, S, E>],
    from: S,
    event: E,
) -> bool {
    rows.iter().any(|t| t.from == from && t.event == event)
}

/// The Mermaid `stateDiagram-v2` source of `rows`: edges with the same states and event share one
/// arrow, their conditions joined; `initial` is drawn as `[*]`, and each of `finals` leads to
/// `[*]`.
pub(crate) fn mermaid<N, S, E>(
    rows: &[Row<N, S, E>],
    initial: S,
    finals: impl IntoIterator<Item = S>,
) -> String
where
    S: Copy + PartialEq + Display,
    E: Copy + PartialEq + Display,
{
    let mut arrows: Vec<(S, E, S, Vec<&str>)> = Vec::new();
    for e in rows {
        match arrows
            .iter_mut()
            .find(|(f, ev, t, _)| *f == e.from && *ev == e.event && *t == e.to)
        {
            Some((.., whens)) => whens.push(e.when),
            None => arrows.push((e.from, e.event, e.to, vec![e.when])),
        }
    }
    let mut out = String::from("stateDiagram-v2\n    direction LR\n");
    for (from, event, to, whens) in arrows {
        let from = if from == initial {
            "[*]".to_owned()
        } else {
            from.to_string()
        };
        // Mermaid ends a label at `;` and treats a second `:` specially.
        let label = format!("{event} / {}", whens.join(" or ")).replace([';', ':'], ",");
        out.push_str(&format!("    {from} --> {to} : {label}\n"));
    }
    for s in finals {
        out.push_str(&format!("    {s} --> [*]\n"));
    }
    out
}

/// The markdown table of `rows`: `| edge | from | event | to | when |`.
pub(crate) fn markdown_rows<N: Display, S: Display, E: Display>(rows: &[Row<N, S, E>]) -> String {
    let mut out = String::from("| edge | from | event | to | when |\n|---|---|---|---|---|\n");
    for e in rows {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            e.edge,
            e.from,
            e.event,
            e.to,
            e.when.replace('|', "\\|")
        ));
    }
    out
}
