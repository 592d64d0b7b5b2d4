//! Durations on the command line: every `--...-seconds` and `--...-lifetime` flag is a whole
//! number of seconds within a range a deployment can mean. Anything else (`--lease-seconds
//! 18446744073709551615`, a lifetime of centuries) is refused by clap with the flag's name and
//! the accepted range, before any engine or sandbox sees it.

use clap::builder::{NonEmptyStringValueParser, TypedValueParser};

/// One day, in seconds: the ceiling of leases, grace periods, reload and wait intervals.
pub const DAY: u64 = 86_400;
/// 365 days, in seconds: the ceiling of token, interaction and quote lifetimes.
pub const YEAR: u64 = 365 * DAY;

/// The value parser of a seconds flag: a whole number in `min..=max`.
pub fn seconds(min: u64, max: u64) -> impl TypedValueParser<Value = u64> {
    NonEmptyStringValueParser::new().try_map(move |text| parse(&text, min, max))
}

fn parse(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let accepted = format!("accepted: {min} to {max} seconds ({})", spoken(max));
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a whole number of seconds; {accepted}"));
    }
    // All digits: a parse error can only be an overflow, out of range as well.
    match digits.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("out of range; {accepted}")),
    }
}

/// `1 day`, `365 days`: the ceiling as a person says it.
fn spoken(seconds: u64) -> String {
    match seconds / DAY {
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_range_and_refuses_the_rest_saying_the_range() {
        assert_eq!(parse("30", 1, DAY), Ok(30));
        assert_eq!(parse("1", 1, DAY), Ok(1));
        assert_eq!(parse("86400", 1, DAY), Ok(DAY));
        let too_big = parse("18446744073709551615", 1, DAY).unwrap_err();
        assert_eq!(
            too_big,
            "out of range; accepted: 1 to 86400 seconds (1 day)"
        );
        let beyond_u64 = parse("99999999999999999999999", 1, YEAR).unwrap_err();
        assert!(beyond_u64.starts_with("out of range; accepted: 1 to 31536000 seconds (365 days)"));
        assert!(parse("0", 1, DAY).unwrap_err().starts_with("out of range"));
        assert!(
            parse("-5", 0, DAY)
                .unwrap_err()
                .starts_with("not a whole number")
        );
        assert!(
            parse("1.5", 0, DAY)
                .unwrap_err()
                .starts_with("not a whole number")
        );
    }
}
