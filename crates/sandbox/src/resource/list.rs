//! The list routes' common part: the required `wallet-address` parameter, its authorization, and
//! pagination as the reference does it (`first`, default 10, after `cursor`, or `last` before it).

use grantflow_protocol::pagination::PageInfo;
use serde::Deserialize;
use uuid::Uuid;

use super::access::{Authorized, Kind, Want, authorize, bad_request};
use crate::error::ApiError;
use crate::httpsig::SignedRequest;
use crate::state::Shared;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "wallet-address")]
    pub(super) wallet_address: Option<String>,
    first: Option<usize>,
    last: Option<usize>,
    cursor: Option<String>,
}

/// One page of `ids` (in creation order) as the reference paginates: `first` (default 10) after
/// `cursor`, or `last` before it.
pub(super) fn paginate(ids: &[Uuid], q: &ListQuery) -> Result<(Vec<Uuid>, PageInfo), ApiError> {
    if q.first.is_some() && q.last.is_some() {
        return Err(bad_request("give first or last, not both"));
    }
    if q.first.is_some_and(|n| !(1..=100).contains(&n))
        || q.last.is_some_and(|n| !(1..=100).contains(&n))
    {
        return Err(bad_request("first and last must be between 1 and 100"));
    }
    let cursor_index = match &q.cursor {
        None => None,
        Some(c) => Some(
            ids.iter()
                .position(|id| id.to_string() == *c)
                .ok_or_else(|| bad_request("unknown cursor"))?,
        ),
    };
    let (start, end) = match (q.last, cursor_index) {
        (Some(n), Some(ci)) => (ci.saturating_sub(n), ci),
        (Some(n), None) => (ids.len().saturating_sub(n), ids.len()),
        (None, ci) => {
            let start = ci.map_or(0, |i| i + 1);
            (start, (start + q.first.unwrap_or(10)).min(ids.len()))
        }
    };
    let page: Vec<Uuid> = ids
        .get(start..end)
        .map(<[Uuid]>::to_vec)
        .unwrap_or_default();
    let pagination = PageInfo {
        start_cursor: page.first().map(Uuid::to_string),
        end_cursor: page.last().map(Uuid::to_string),
        has_next_page: end < ids.len(),
        has_previous_page: start > 0,
    };
    Ok((page, pagination))
}

/// The preamble of every list route: the required `wallet-address` parameter, then
/// [`authorize`] `List` on it.
pub(super) async fn authorize_list(
    shared: &Shared,
    request: &SignedRequest,
    kind: Kind,
    q: &ListQuery,
) -> Result<(String, Authorized), ApiError> {
    let wallet = q
        .wallet_address
        .clone()
        .ok_or_else(|| bad_request("the wallet-address query parameter is required"))?;
    let auth = authorize(shared, request, kind, Want::List, Some(&wallet)).await?;
    Ok((wallet, auth))
}
