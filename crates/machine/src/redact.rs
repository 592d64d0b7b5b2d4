//! `Debug` helpers that hide the secrets wire types carry in plain fields.

use std::fmt;

use grantflow_protocol::grant::InteractResponse;

/// `Debug` for an interaction response: the redirect URL carries the AS finish nonce in its path
/// at the reference server, so it is redacted along with the nonce itself.
pub(crate) struct RedactedInteraction<'a>(pub(crate) &'a InteractResponse);

impl fmt::Debug for RedactedInteraction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractResponse")
            .field("redirect", &"<redacted: carries the AS nonce>")
            .field("finish", &self.0.finish)
            .finish()
    }
}
