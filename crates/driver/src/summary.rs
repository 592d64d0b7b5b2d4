//! The non-secret [`GrantSummary`] the engine writes beside every state it commits, so the store
//! can list and filter grants without opening their (sealed) states.

use grantflow_machine::{GrantIntent, GrantState, Outcome};
use grantflow_protocol::grant::AccessItem;
use grantflow_store::GrantSummary;

/// The longest `last_error` kept in the summary, in characters (the full reason stays in the
/// state).
const MAX_ERROR_CHARS: usize = 500;

/// The summary of `state`. The access types and wallet address come from the request while the
/// state still carries it, otherwise from `known` (the summary written before, or the one read
/// from the grant's first event), and, for an issued grant with nothing known, from the access
/// its token carries.
pub(crate) fn summarize(state: &GrantState, known: &GrantSummary) -> GrantSummary {
    let (access_types, wallet_address) = match requested_access(state) {
        Some(access) => access_summary(access),
        None if !known.access_types.is_empty() || known.wallet_address.is_some() => {
            (known.access_types.clone(), known.wallet_address.clone())
        }
        None => match state {
            GrantState::Finalized(Outcome::Issued(issued)) => access_summary(&issued.token.access),
            _ => (Vec::new(), None),
        },
    };
    GrantSummary {
        state_kind: Some(state.kind().as_str().to_owned()),
        access_types,
        wallet_address,
        last_error: state
            .reason()
            .map(|r| r.chars().take(MAX_ERROR_CHARS).collect()),
    }
}

/// What the request of `intent` says about the summary: its access types and wallet address
/// (the state kind and last error are left empty).
pub(crate) fn requested(intent: &GrantIntent) -> GrantSummary {
    let (access_types, wallet_address) = intent
        .request
        .access_token
        .as_ref()
        .map(|t| access_summary(&t.access))
        .unwrap_or_default();
    GrantSummary {
        access_types,
        wallet_address,
        ..GrantSummary::default()
    }
}

/// The access requested, while the state still carries the request.
fn requested_access(state: &GrantState) -> Option<&[AccessItem]> {
    let intent = match state {
        GrantState::Requested(s) => &s.intent,
        GrantState::AwaitingInteraction(s) => &s.intent,
        GrantState::Continuing(s) => &s.intent,
        _ => return None,
    };
    Some(
        intent
            .request
            .access_token
            .as_ref()
            .map_or(&[][..], |t| t.access.as_slice()),
    )
}

/// The access types (in order, without repeats) and the user's wallet address (the first
/// `identifier`: the account payments are sent from, or incoming payments are for).
fn access_summary(access: &[AccessItem]) -> (Vec<String>, Option<String>) {
    let mut types: Vec<String> = Vec::new();
    for item in access {
        if !types.iter().any(|t| t == item.type_str()) {
            types.push(item.type_str().to_owned());
        }
    }
    let wallet = access.iter().find_map(|item| match item {
        AccessItem::OutgoingPayment(a) => Some(a.identifier.clone()),
        AccessItem::IncomingPayment(a) => a.identifier.clone(),
        AccessItem::Quote(_) => None,
    });
    (types, wallet)
}
