//! Cursor pagination of the list endpoints (`GET /incoming-payments`, `GET /outgoing-payments`).

use serde::{Deserialize, Serialize};

/// `pagination` of a list response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// Cursor of the first item of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_cursor: Option<String>,
    /// Whether a page follows (ask with `first` and `cursor = end_cursor`).
    pub has_next_page: bool,
    /// Whether a page precedes (ask with `last` and `cursor = start_cursor`).
    pub has_previous_page: bool,
}

/// One page of a list response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Where the page sits.
    pub pagination: PageInfo,
    /// The items.
    pub result: Vec<T>,
}

/// Which page to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// `first` items after `cursor` (from the start without one).
    Forward {
        /// Page size, 1..=100.
        first: u8,
        /// Start after this cursor.
        cursor: Option<String>,
    },
    /// `last` items before `cursor`.
    Backward {
        /// Page size, 1..=100.
        last: u8,
        /// End before this cursor.
        cursor: String,
    },
}

/// A page size outside 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("page size {0} is outside 1..=100")]
pub struct InvalidPageSize(pub u8);

impl PageRequest {
    /// The first `first` items.
    pub fn first(first: u8) -> Result<Self, InvalidPageSize> {
        check(first)?;
        Ok(Self::Forward {
            first,
            cursor: None,
        })
    }

    /// `first` items after `cursor`.
    pub fn after(first: u8, cursor: impl Into<String>) -> Result<Self, InvalidPageSize> {
        check(first)?;
        Ok(Self::Forward {
            first,
            cursor: Some(cursor.into()),
        })
    }

    /// `last` items before `cursor`.
    pub fn before(last: u8, cursor: impl Into<String>) -> Result<Self, InvalidPageSize> {
        check(last)?;
        Ok(Self::Backward {
            last,
            cursor: cursor.into(),
        })
    }

    /// The query parameters (`first`/`last` and `cursor`), to append after `wallet-address`.
    ///
    /// ```
    /// use grantflow_protocol::pagination::PageRequest;
    /// let q = PageRequest::after(10, "c1").unwrap().query_pairs();
    /// assert_eq!(q, vec![("first", "10".to_string()), ("cursor", "c1".to_string())]);
    /// ```
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            PageRequest::Forward { first, cursor } => {
                let mut q = vec![("first", first.to_string())];
                if let Some(c) = cursor {
                    q.push(("cursor", c.clone()));
                }
                q
            }
            PageRequest::Backward { last, cursor } => {
                vec![("last", last.to_string()), ("cursor", cursor.clone())]
            }
        }
    }
}

fn check(size: u8) -> Result<(), InvalidPageSize> {
    if (1..=100).contains(&size) {
        Ok(())
    } else {
        Err(InvalidPageSize(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(PageRequest::first(0), Err(InvalidPageSize(0)));
        assert_eq!(PageRequest::first(101), Err(InvalidPageSize(101)));
        assert!(PageRequest::first(100).is_ok());
        assert_eq!(
            PageRequest::before(5, "c").unwrap().query_pairs(),
            vec![("last", "5".to_string()), ("cursor", "c".to_string())]
        );
    }

    #[test]
    fn page_info_round_trips() {
        let json = r#"{"pagination":{"startCursor":"a","endCursor":"b","hasNextPage":true,"hasPreviousPage":false},"result":[1,2]}"#;
        let p: Page<u32> = serde_json::from_str(json).unwrap();
        assert!(p.pagination.has_next_page);
        assert_eq!(serde_json::to_string(&p).unwrap(), json);
        assert!(
            serde_json::from_str::<Page<u32>>(r#"{"pagination":{"hasNextPage":true},"result":[]}"#)
                .is_err()
        );
    }
}
