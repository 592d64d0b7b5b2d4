//! Effects: what the driver must do after a transition.

use std::sync::Arc;

use grantflow_protocol::Secret;
use grantflow_protocol::grant::{AccessToken, Continuation};
use serde::{Deserialize, Serialize};

use crate::intent::GrantIntent;
use crate::kind::CallKind;

/// One thing to do. Calls carry `Arc` handles to the data they need (shared with the state, never
/// copied); the new state, committed before the call is made, also says it is in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// `POST` the grant request to the grant endpoint.
    SendGrantRequest {
        /// The request and the endpoint.
        intent: Arc<GrantIntent>,
    },
    /// `POST {"interact_ref": ...}` to the continuation URI (`Authorization: GNAP <token>`). Only
    /// ever emitted after the finish hash of this `interact_ref` verified.
    Continue {
        /// URI and continuation token.
        continuation: Arc<Continuation>,
        /// The verified interaction reference.
        interact_ref: Arc<Secret>,
    },
    /// Bodiless `POST` to the continuation URI (polling a grant requested without a finish URI).
    Poll {
        /// URI and continuation token.
        continuation: Arc<Continuation>,
    },
    /// `DELETE` the continuation URI.
    Cancel {
        /// URI and continuation token.
        continuation: Arc<Continuation>,
    },
    /// `POST` the token's manage URL (`Authorization: GNAP <access token>`).
    Rotate {
        /// The token to rotate.
        token: Arc<AccessToken>,
    },
    /// `DELETE` the token's manage URL.
    RevokeToken {
        /// The token to revoke.
        token: Arc<AccessToken>,
    },
    /// Tell the application about a change it cares about (read the details from the new state).
    Notify {
        /// What changed.
        change: Change,
    },
}

impl Effect {
    /// The call this effect makes, if it is one.
    pub fn call_kind(&self) -> Option<CallKind> {
        Some(match self {
            Self::SendGrantRequest { .. } => CallKind::GrantRequest,
            Self::Continue { .. } => CallKind::Continue,
            Self::Poll { .. } => CallKind::Poll,
            Self::Cancel { .. } => CallKind::Cancel,
            Self::Rotate { .. } => CallKind::Rotate,
            Self::RevokeToken { .. } => CallKind::RevokeToken,
            Self::Notify { .. } => return None,
        })
    }
}

/// An application-facing change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The user must interact: the redirect URL is known ([`GrantState::redirect`](crate::GrantState::redirect)).
    InteractionRequired,
    /// The finish callback verified; the grant is being continued.
    InteractionFinished,
    /// An access token was issued.
    Issued,
    /// The access token was rotated (new value, new manage URL).
    TokenRotated,
    /// The user denied the grant.
    Rejected,
    /// The grant was canceled.
    Canceled,
    /// The token (or grant) was revoked.
    Revoked,
    /// The grant failed.
    Failed,
    /// The grant was lost: request a new one.
    Lost,
    /// The interaction deadline passed.
    Expired,
}

/// The effects of one transition: at most one call and at most one notification, stored inline
/// (no allocation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    slots: [Option<Effect>; 2],
}

impl Effects {
    /// No effects.
    pub const NONE: Self = Self {
        slots: [None, None],
    };

    pub(crate) fn call(effect: Effect) -> Self {
        Self {
            slots: [Some(effect), None],
        }
    }

    pub(crate) fn notify(change: Change) -> Self {
        Self {
            slots: [None, Some(Effect::Notify { change })],
        }
    }

    pub(crate) fn with_notify(mut self, change: Change) -> Self {
        self.slots[1] = Some(Effect::Notify { change });
        self
    }

    /// The effects in order: the call first, then the notification.
    pub fn iter(&self) -> impl Iterator<Item = &Effect> {
        self.slots.iter().flatten()
    }

    /// The call to make, if any.
    pub fn call_effect(&self) -> Option<&Effect> {
        self.slots[0].as_ref()
    }

    /// The notification, if any.
    pub fn change(&self) -> Option<Change> {
        match &self.slots[1] {
            Some(Effect::Notify { change }) => Some(*change),
            _ => None,
        }
    }

    /// How many effects.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

impl IntoIterator for Effects {
    type Item = Effect;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<Effect>, 2>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}
