//! The two sides of a signature: a request about to be signed and the headers signing adds to
//! it; a received request to verify, with its headers looked up as RFC 9421 §2.1 says.

/// A request to sign: what the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// The HTTP method (upper-cased in `@method`).
    pub method: &'a str,
    /// The full request URL, exactly as it will be sent (it is `@target-uri` verbatim).
    pub target_uri: &'a str,
    /// The Authorization header value (`GNAP <token>`), when the request carries one.
    pub authorization: Option<&'a str>,
    /// The exact body bytes that will be sent; `None` or empty for no body.
    pub body: Option<&'a [u8]>,
}

/// The headers to add to a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `Signature: sig1=:<base64>:`.
    pub signature: String,
    /// `Signature-Input: sig1=("@method" …);keyid="…";created=…`.
    pub signature_input: String,
    /// `Content-Digest: sha-512=:<base64>:` when there is a body.
    pub content_digest: Option<String>,
    /// `Content-Length` when there is a body.
    pub content_length: Option<String>,
    /// `Content-Type: application/json` when there is a body.
    pub content_type: Option<&'static str>,
}

impl SignatureHeaders {
    /// The headers as `(name, value)` pairs, in the reference package's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("Content-Digest", self.content_digest.as_deref()),
            ("Content-Length", self.content_length.as_deref()),
            ("Content-Type", self.content_type),
            ("Signature", Some(self.signature.as_str())),
            ("Signature-Input", Some(self.signature_input.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}

/// A received request to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifiableRequest<'a> {
    /// The HTTP method as received.
    pub method: &'a str,
    /// The full URL the server received the request at (scheme, authority, path and query), as
    /// the client addressed it.
    pub target_uri: &'a str,
    /// Every header as `(name, value)`; names are matched case-insensitively and repeated
    /// headers are combined with `, ` as RFC 9421 §2.1 requires.
    pub headers: &'a [(&'a str, &'a str)],
    /// The raw body bytes, if any.
    pub body: Option<&'a [u8]>,
}

impl VerifiableRequest<'_> {
    pub(super) fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }

    pub(super) fn header(&self, name: &str) -> Option<String> {
        let values = self.header_values(name);
        (!values.is_empty()).then(|| values.join(", "))
    }

    pub(super) fn body(&self) -> Option<&[u8]> {
        self.body.filter(|b| !b.is_empty())
    }
}
