//! [`ConsoleConfig`]: how the console reads limits and pages grants.

use std::time::Duration;

use grantflow_interval::Reading;

/// How the console behaves. It is read-only (actions come with an operator token).
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The reading of `limits.interval` used to find the current period (the authorization
    /// server's; the reference server's, Rafiki-compatible, by default).
    pub reading: Reading,
    /// Grants per list page.
    pub page_size: u32,
    /// How long a signed-in session lasts.
    pub session_lifetime: Duration,
}

impl ConsoleConfig {
    /// A console that shows everything and offers no action.
    pub fn read_only() -> Self {
        Self {
            reading: Reading::RafikiCompatible,
            page_size: 50,
            session_lifetime: Duration::from_secs(8 * 3600),
        }
    }

    /// The reading of `limits.interval` the authorization servers use.
    pub fn with_reading(mut self, reading: Reading) -> Self {
        self.reading = reading;
        self
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self::read_only()
    }
}
