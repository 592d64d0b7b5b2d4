//! Grant ids as typed on the command line: a whole id, or a unique prefix of one (the demo and
//! `grant list` print ids people copy; 8 characters are usually enough).
//!
//! A prefix is resolved by reading the grants newest first, a page at a time, until the prefix
//! is known to be unique or ambiguous: one scan of the grant table at most, which a command line
//! can afford (a whole id is used as it is, without a scan).

use anyhow::bail;
use grantflow_driver::{Engine, EngineError, GrantFilter};
use grantflow_store::GrantId;

use crate::cli::engine::Store;

/// How many grants one page of the prefix scan reads.
const PAGE: u32 = 500;
/// How many candidates an ambiguous prefix lists.
const SHOWN: usize = 5;

/// What to do when no grant has the id given.
pub const SEE_THE_LIST: &str = "`grantflow grant list` shows the grants in this database";

/// The grant that `text` names: a whole id, or the one id that starts with `text`.
pub async fn resolve(engine: &Engine<Store>, text: &str) -> anyhow::Result<GrantId> {
    let prefix = text.trim().to_ascii_lowercase();
    if let Ok(id) = prefix.parse::<uuid::Uuid>() {
        return Ok(GrantId(id));
    }
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        bail!("{text:?} is not a grant id (hexadecimal digits and '-'); {SEE_THE_LIST}");
    }
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = engine.list(&GrantFilter::default(), after, PAGE).await?;
        found.extend(
            page.grants
                .iter()
                .map(|v| v.id)
                .filter(|id| id.to_string().starts_with(&prefix)),
        );
        match page.next {
            Some(next) if found.len() <= SHOWN => after = Some(next),
            _ => break,
        }
    }
    match found.as_slice() {
        [id] => Ok(*id),
        [] => bail!("no grant id starts with {prefix:?}; {SEE_THE_LIST}"),
        many => {
            let shown: Vec<String> = many.iter().take(SHOWN).map(ToString::to_string).collect();
            let more = if many.len() > SHOWN { ", ..." } else { "" };
            bail!(
                "{prefix:?} is ambiguous: it starts the ids {}{more}; give more characters",
                shown.join(", ")
            )
        }
    }
}

/// An engine error, with what to do next when the grant does not exist.
pub fn explain(error: EngineError) -> anyhow::Error {
    match error {
        EngineError::NotFound(id) => anyhow::anyhow!("no grant {id}; {SEE_THE_LIST}"),
        other => other.into(),
    }
}
