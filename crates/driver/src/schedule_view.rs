//! What the application reads of a schedule: [`ScheduleView`], and its changes as the change
//! feed tells them ([`ScheduleUpdate`], from the summary written beside each event).

use chrono::{DateTime, Utc};
use grantflow_payment::schedule::{
    OccurrenceRecord, ScheduleEventKind, ScheduleState, ScheduleStateKind, Tally,
};
use grantflow_store::{ScheduleId, ScheduleRecord};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// A schedule as stored.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    /// Its id.
    pub id: ScheduleId,
    /// The application's key.
    pub idempotency_key: String,
    /// Transitions so far.
    pub version: i64,
    /// The machine state.
    pub state: ScheduleState,
    /// When a worker next looks at it (`None`: never again).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl ScheduleView {
    /// The coarse state.
    pub fn kind(&self) -> ScheduleStateKind {
        self.state.kind()
    }

    /// How many occurrences were paid, failed, unknown or skipped.
    pub fn tally(&self) -> Tally {
        self.state.progress().map(|p| p.tally).unwrap_or_default()
    }

    /// The grant it pays under now.
    pub fn grant(&self) -> Option<&str> {
        self.state.progress().and_then(|p| p.grant.as_deref())
    }

    pub(crate) fn from_record(record: ScheduleRecord) -> Result<Self, EngineError> {
        let state =
            serde_json::from_str(&record.state).map_err(|e| EngineError::ScheduleCorrupt {
                schedule: record.id,
                detail: e.to_string(),
            })?;
        Ok(Self {
            id: record.id,
            idempotency_key: record.idempotency_key,
            version: record.version,
            state,
            next_wake_at: record.next_wake_at,
            created_at: record.created_at,
        })
    }
}

/// A schedule's transition, as the change feed tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleUpdate {
    /// The schedule.
    pub schedule: ScheduleId,
    /// Its version after the change.
    pub version: i64,
    /// The state before.
    pub from: ScheduleStateKind,
    /// The event.
    pub event: ScheduleEventKind,
    /// The state after.
    pub kind: ScheduleStateKind,
    /// The occurrences recorded (paid, failed, unknown, skipped).
    pub records: Vec<OccurrenceRecord>,
}

/// The feed's summary of a schedule transition (tagged `schedule` beside `grant` and `payment`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScheduleSummary {
    pub(crate) from: ScheduleStateKind,
    pub(crate) event: ScheduleEventKind,
    pub(crate) kind: ScheduleStateKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) records: Vec<OccurrenceRecord>,
}

impl ScheduleSummary {
    pub(crate) fn into_update(self, schedule: ScheduleId, version: i64) -> ScheduleUpdate {
        ScheduleUpdate {
            schedule,
            version,
            from: self.from,
            event: self.event,
            kind: self.kind,
            records: self.records,
        }
    }
}
