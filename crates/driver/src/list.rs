//! Listing grants for operators ([`Engine::list`]: filtered keyset pages over the summary
//! columns) and filling the summary of grants written before it existed ([`Engine::reindex`]).

use chrono::{DateTime, Utc};
use grantflow_machine::{Event, StateKind};
use grantflow_store::{GrantId, GrantStore, ListCursor, ListFilter};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::summary::{requested, summarize};
use crate::view::{GrantView, HistoryEntry, decode_state};

/// The access types a [`GrantFilter::access`] may name (the `type` of an access item).
pub const ACCESS_TYPES: [&str; 3] = ["incoming-payment", "outgoing-payment", "quote"];

/// Which grants [`Engine::list`] returns: every field set must match; the default matches all.
///
/// Each filter is served by an index in the keyset order (state kind, wallet address) or checked
/// along it (access type, creation range); see `docs/PERFORMANCE.md` for the plans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Only grants in this state.
    pub state: Option<StateKind>,
    /// Only grants requested for this user's wallet address (exactly as requested).
    pub wallet: Option<String>,
    /// Only grants whose requested access includes this type (one of [`ACCESS_TYPES`]).
    pub access: Option<String>,
    /// Only grants created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only grants created before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

/// The store's filter: the state kind by the transition table's name.
impl From<&GrantFilter> for ListFilter {
    fn from(filter: &GrantFilter) -> Self {
        Self {
            state_kind: filter.state.map(|k| k.as_str().to_owned()),
            wallet_address: filter.wallet.clone(),
            access_type: filter.access.clone(),
            created_after: filter.created_after,
            created_before: filter.created_before,
        }
    }
}

/// One page of [`Engine::list`], newest first.
#[derive(Clone, Debug)]
pub struct GrantPage {
    /// The grants of the page.
    pub grants: Vec<GrantView>,
    /// Pass it to the next call to get the next page; `None` after the last one. Its text form
    /// (`to_string`, `parse`) is what command lines and URLs carry.
    pub next: Option<ListCursor>,
}

/// What [`Engine::reindex`] did to one grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reindexed {
    /// Its summary was written.
    Written,
    /// Its summary was already right: nothing written.
    Unchanged,
    /// It changed meanwhile; its writer wrote its summary.
    MovedOn,
}

/// What [`Engine::reindex`] did in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Grants whose summary was written.
    pub written: u64,
    /// Grants already right.
    pub unchanged: u64,
    /// Grants that changed while being read (their writer wrote their summary).
    pub moved_on: u64,
}

impl<S: GrantStore> Engine<S> {
    /// One page of the grants matching `filter`, newest first (by creation time, then id),
    /// starting after `after` (the previous page's [`GrantPage::next`]; `None` for the first),
    /// at most `limit` grants (1 to [`grantflow_store::MAX_PAGE`]; other values are brought
    /// into that range).
    ///
    /// Following `next` visits every matching grant that existed at the first page exactly once,
    /// while grants are created and change meanwhile (a grant that changes state between pages
    /// can leave or enter a state filter). Grants written before the summary columns existed
    /// and not since are listed only without a state, wallet or access filter until
    /// [`reindex`](Self::reindex) fills them.
    ///
    /// Fails with [`EngineError::UnknownAccessType`] for an access type that is not one of
    /// [`ACCESS_TYPES`].
    ///
    /// Cancel safety: a read; dropping the future changes nothing.
    pub async fn list(
        &self,
        filter: &GrantFilter,
        after: Option<ListCursor>,
        limit: u32,
    ) -> Result<GrantPage, EngineError> {
        if let Some(access) = &filter.access
            && !ACCESS_TYPES.contains(&access.as_str())
        {
            return Err(EngineError::UnknownAccessType(access.clone()));
        }
        let page = self
            .inner
            .store
            .list_page(&ListFilter::from(filter), after, limit)
            .await?;
        Ok(GrantPage {
            grants: page
                .grants
                .into_iter()
                .map(GrantView::from_record)
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    /// Writes the summary (state kind, access types, wallet address, last error) of every grant
    /// whose stored summary is missing or out of date: grants written before the summary columns
    /// existed get theirs here rather than at their next write, which for a final grant never
    /// comes. `page` grants are read at a time; `progress` is called after each grant.
    ///
    /// Safe beside running workers (a grant that changes meanwhile keeps its writer's summary)
    /// and resumable (grants already right are not written). Run it once after every process
    /// runs a version that writes summaries: an older worker's writes leave the summary behind.
    ///
    /// Cancel safety: dropping the future stops it between writes; each write stands alone, and
    /// running it again finishes the rest.
    pub async fn reindex(
        &self,
        page: u32,
        mut progress: impl FnMut(GrantId, Reindexed),
    ) -> Result<ReindexReport, EngineError> {
        let store = &self.inner.store;
        let mut report = ReindexReport::default();
        let mut after = None;
        loop {
            let listed = store.list_page(&ListFilter::default(), after, page).await?;
            for record in listed.grants {
                let state = decode_state(record.id, &record.state)?;
                let mut known = record.summary.clone();
                if known.access_types.is_empty() && known.wallet_address.is_none() {
                    // The request is in the first event, whatever the state has become.
                    if let Some(first) = store.first_event(record.id).await? {
                        if let Event::Request { intent } = HistoryEntry::from_record(first)?.event {
                            known = requested(&intent);
                        }
                    }
                }
                let summary = summarize(&state, &known);
                let outcome = if summary == record.summary {
                    Reindexed::Unchanged
                } else if store
                    .write_summary(record.id, record.version, &summary)
                    .await?
                {
                    Reindexed::Written
                } else {
                    Reindexed::MovedOn
                };
                match outcome {
                    Reindexed::Written => report.written += 1,
                    Reindexed::Unchanged => report.unchanged += 1,
                    Reindexed::MovedOn => report.moved_on += 1,
                }
                progress(record.id, outcome);
            }
            match listed.next {
                Some(next) => after = Some(next),
                None => return Ok(report),
            }
        }
    }
}
