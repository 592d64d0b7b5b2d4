//! [`Amount`]: a value in minor units of an asset, as Open Payments puts it on the wire.
//!
//! One type for the whole workspace: the allowance counts in it, and `grantflow-protocol`
//! re-exports it as `grantflow_protocol::amount::Amount` for its wire types (it lives here because
//! the protocol crate depends on this one, not the other way round).
//!
//! On the wire `value` is a decimal **string** of an unsigned 64-bit integer (`"500"`), so it
//! survives JavaScript's 53-bit numbers; `assetScale` is `0..=255`. Here `value` is a `u64`, so
//! anything that is not a plain decimal u64 (a sign, a fraction, an exponent, a JSON number,
//! overflow) is a typed deserialisation error.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of an asset: `value` minor units at `asset_scale` decimal places.
///
/// ```
/// use grantflow_interval::Amount;
///
/// let a: Amount = serde_json::from_str(r#"{"value":"500","assetCode":"USD","assetScale":2}"#).unwrap();
/// assert_eq!(a.value, 500);
/// assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"value":"500","assetCode":"USD","assetScale":2}"#);
/// assert!(serde_json::from_str::<Amount>(r#"{"value":500,"assetCode":"USD","assetScale":2}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Amount {
    /// Minor units; a decimal string of a u64 on the wire.
    #[serde(with = "u64_string")]
    pub value: u64,
    /// The asset code, e.g. `USD`.
    pub asset_code: String,
    /// Decimal places between the minor unit and one unit of the asset.
    pub asset_scale: u8,
}

impl Amount {
    /// Builds an amount.
    pub fn new(value: u64, asset_code: impl Into<String>, asset_scale: u8) -> Self {
        Self {
            value,
            asset_code: asset_code.into(),
            asset_scale,
        }
    }

    /// Whether two amounts are of the same asset (code and scale), so they can be compared or added.
    pub fn same_asset(&self, other: &Amount) -> bool {
        self.asset_code == other.asset_code && self.asset_scale == other.asset_scale
    }

    /// The same asset with another value.
    pub(crate) fn with_value(&self, value: u64) -> Amount {
        Amount::new(value, self.asset_code.clone(), self.asset_scale)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (scale {})",
            self.value, self.asset_code, self.asset_scale
        )
    }
}

/// Serde helpers for a u64 carried as a decimal string (`"123"`), strict: digits only.
pub mod u64_string {
    use super::*;

    /// Serialises as a decimal string.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Deserialises a decimal string of ASCII digits that fits a u64.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_str(U64StringVisitor)
    }

    struct U64StringVisitor;

    impl Visitor<'_> for U64StringVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal string of an unsigned 64-bit integer")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            parse_u64_decimal(v).ok_or_else(|| {
                E::invalid_value(de::Unexpected::Str(v), &"a decimal string of a u64")
            })
        }
    }

    /// Parses `^[0-9]+$` into a u64 (`None` on anything else, including overflow).
    pub fn parse_u64_decimal(v: &str) -> Option<u64> {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Amount, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn round_trips_max_u64() {
        let json = r#"{"value":"18446744073709551615","assetCode":"EUR","assetScale":255}"#;
        let a = parse(json).unwrap();
        assert_eq!(a.value, u64::MAX);
        assert_eq!(a.asset_scale, 255);
        assert_eq!(serde_json::to_string(&a).unwrap(), json);
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            r#"{"value":"18446744073709551616","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"-1","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"+1","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"1.5","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"1e3","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":" 1","assetCode":"EUR","assetScale":2}"#,
            r#"{"value":1,"assetCode":"EUR","assetScale":2}"#,
            r#"{"value":"1","assetCode":"EUR","assetScale":256}"#,
            r#"{"value":"1","assetCode":"EUR","assetScale":-1}"#,
            r#"{"value":"1","assetCode":"EUR"}"#,
        ] {
            assert!(parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn same_asset() {
        assert!(Amount::new(1, "USD", 2).same_asset(&Amount::new(9, "USD", 2)));
        assert!(!Amount::new(1, "USD", 2).same_asset(&Amount::new(1, "USD", 3)));
    }
}
