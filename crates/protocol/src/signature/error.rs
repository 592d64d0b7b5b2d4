//! Why a request could not be signed ([`SignError`]) or its signature was rejected
//! ([`VerifyError`]): one variant per rule, each naming what failed.

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key id cannot be an RFC 8941 string (only printable ASCII is allowed).
    #[error("key id {key_id:?} is not printable ASCII, so it cannot go in Signature-Input")]
    InvalidKeyId {
        /// The key id.
        key_id: String,
    },
    /// `created` is outside the RFC 8941 integer range (15 digits).
    #[error("created {created} is outside the structured-field integer range")]
    InvalidCreated {
        /// The value.
        created: i64,
    },
}

/// Why a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("the {header} header is missing")]
    MissingHeader {
        /// `Signature` or `Signature-Input`.
        header: &'static str,
    },
    /// A header is not a valid RFC 8941 structured field of the expected type.
    #[error("the {header} header is not a valid structured-field dictionary: {reason}")]
    MalformedHeader {
        /// Which header.
        header: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The header has no `sig1` member.
    #[error("the {header} header has no `sig1` member")]
    LabelMissing {
        /// Which header.
        header: &'static str,
    },
    /// `Signature-Input`'s `sig1` is not an inner list of component names, or `Signature`'s is
    /// not a byte sequence.
    #[error("`sig1` in {header} has the wrong type: {expected}")]
    WrongMemberType {
        /// Which header.
        header: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A covered component is not a plain lowercase string (or has parameters, which this
    /// verifier does not support), or is listed twice.
    #[error("covered component {component:?} is invalid: {reason}")]
    InvalidComponent {
        /// The component as received.
        component: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A derived component this verifier does not compute.
    #[error("covered component {component:?} is not supported")]
    UnsupportedComponent {
        /// The component.
        component: String,
    },
    /// A signature parameter is missing or has the wrong type.
    #[error("signature parameter `{param}` is missing or not {expected}")]
    InvalidParameter {
        /// `keyid`, `created`, `expires` or `alg`.
        param: &'static str,
        /// The expected type.
        expected: &'static str,
    },
    /// `alg` names another algorithm.
    #[error("signature algorithm {alg:?} is not supported (only ed25519)")]
    UnsupportedAlgorithm {
        /// The `alg` parameter.
        alg: String,
    },
    /// A component the profile requires is not covered.
    #[error("{component} must be covered by the signature ({why})")]
    RequiredComponentNotCovered {
        /// The component.
        component: &'static str,
        /// Why it is required.
        why: &'static str,
    },
    /// A covered header is absent from the request.
    #[error("covered component {component:?} is not present in the request")]
    ComponentMissing {
        /// The component.
        component: String,
    },
    /// `content-digest` is covered but the request has no body.
    #[error("content-digest is covered but the request has no body")]
    DigestWithoutBody,
    /// The Content-Digest header is not a dictionary of byte sequences.
    #[error("malformed Content-Digest: {reason}")]
    MalformedContentDigest {
        /// What is wrong.
        reason: String,
    },
    /// No digest in Content-Digest uses sha-256 or sha-512.
    #[error("Content-Digest has no sha-256 or sha-512 digest")]
    UnsupportedDigestAlgorithm,
    /// A digest does not match the body.
    #[error("Content-Digest {algorithm} does not match the body")]
    DigestMismatch {
        /// `sha-256` or `sha-512`.
        algorithm: &'static str,
    },
    /// Content-Length does not match the body.
    #[error("Content-Length {header:?} does not match the body length {actual}")]
    ContentLengthMismatch {
        /// The header value.
        header: String,
        /// The body length.
        actual: usize,
    },
    /// `created` is older than allowed.
    #[error("signature created at {created} is older than {max_age_secs} s (now {now})")]
    TooOld {
        /// `created`.
        created: i64,
        /// The clock.
        now: i64,
        /// The limit.
        max_age_secs: u64,
    },
    /// `created` is in the future beyond the allowed skew.
    #[error("signature created at {created} is in the future (now {now})")]
    CreatedInFuture {
        /// `created`.
        created: i64,
        /// The clock.
        now: i64,
    },
    /// `expires` has passed.
    #[error("signature expired at {expires} (now {now})")]
    Expired {
        /// `expires`.
        expires: i64,
        /// The clock.
        now: i64,
    },
    /// No key with this id is known.
    #[error("no key is known with keyid {key_id:?}")]
    UnknownKey {
        /// The key id.
        key_id: String,
    },
    /// The Ed25519 signature does not verify over the rebuilt signature base.
    #[error("the signature does not verify with key {key_id:?}")]
    SignatureMismatch {
        /// The key id.
        key_id: String,
    },
}
