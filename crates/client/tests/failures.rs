//! Every failure shape: GNAP error bodies, bare statuses, non-JSON, malformed success bodies,
//! Retry-After, timeouts, the body cap, retries of GET/DELETE vs none of POST, and whether the
//! request may have reached the server.

// A panic in a test helper is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant, UNIX_EPOCH};

use grantflow_client::{Delivery, ErrorKind, RetryAfter};
use grantflow_protocol::error::GnapErrorCode;
use grantflow_protocol::secret::Secret;
use support::{Reply, Server, client_builder, client_for, raw_server, refused_addr, write_chunked};
use tokio::io::AsyncWriteExt;
use url::Url;

fn token() -> Secret {
    Secret::new("ACCESSTOKEN000000001")
}

fn status_of(err: &grantflow_client::ClientError) -> &grantflow_client::StatusError {
    match err.kind() {
        ErrorKind::Status(s) => s,
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn gnap_error_object_with_code() {
    let body = r#"{"error":{"code":"too_fast","description":"continued grant faster than \"wait\" period"}}"#;
    let server = Server::always(Reply::json(400, body)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .continue_grant(&server.url("continue/1"), &token(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::TooFast));
    let s = status_of(&err);
    assert_eq!(
        s.description(),
        Some("continued grant faster than \"wait\" period")
    );
    assert_eq!(s.body.as_bytes(), body.as_bytes());
    assert_eq!(err.delivery(), Delivery::Received);
    assert_eq!(err.attempts(), 1);
    let shown = err.to_string();
    assert!(
        shown.contains("POST") && shown.contains("/continue/1"),
        "{shown}"
    );
    assert!(
        shown.contains("too_fast") && shown.contains("400"),
        "{shown}"
    );
}

#[tokio::test]
async fn gnap_error_without_code() {
    let server = Server::always(Reply::json(
        400,
        r#"{"error":{"description":"body/access_token must be object"}}"#,
    ))
    .await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(err.gnap_code(), None);
    assert_eq!(
        status_of(&err).description(),
        Some("body/access_token must be object")
    );
}

#[tokio::test]
async fn gnap_error_string_form() {
    let server = Server::always(Reply::json(401, r#"{"error":"invalid_client"}"#)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(err.gnap_code(), Some(&GnapErrorCode::InvalidClient));
    assert_eq!(status_of(&err).description(), None);
}

#[tokio::test]
async fn unknown_gnap_code_is_kept() {
    let server = Server::always(Reply::json(
        400,
        r#"{"error":{"code":"brand_new_code","description":"d"}}"#,
    ))
    .await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(
        err.gnap_code(),
        Some(&GnapErrorCode::Other("brand_new_code".into()))
    );
}

#[tokio::test]
async fn bare_500_and_non_json_bodies() {
    let server = Server::always(Reply::empty(500)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    let s = status_of(&err);
    assert_eq!(s.status.as_u16(), 500);
    assert!(s.gnap.is_none() && s.body.is_empty());

    let server = Server::always(Reply::text(502, "<html>Bad Gateway</html>")).await;
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    let s = status_of(&err);
    assert_eq!(s.status.as_u16(), 502);
    assert!(s.gnap.is_none());
    assert_eq!(s.body.to_text(), "<html>Bad Gateway</html>");
    assert!(err.to_string().contains("not a GNAP error"), "{err}");
}

#[tokio::test]
async fn malformed_success_body() {
    let server = Server::always(Reply::json(
        200,
        r#"{"access_token":{"value":"SECRETVALUE"}}"#,
    ))
    .await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    let ErrorKind::MalformedBody {
        status,
        expected,
        body,
        ..
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(status.as_u16(), 200);
    assert!(expected.contains("RotatedToken"), "{expected}");
    assert!(body.to_text().contains("SECRETVALUE"));
    assert_eq!(err.delivery(), Delivery::Received);
    // Neither Display nor Debug shows the body, which may hold a token.
    assert!(!err.to_string().contains("SECRETVALUE"));
    assert!(!format!("{err:?}").contains("SECRETVALUE"));

    let server = Server::always(Reply::text(200, "not json")).await;
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MalformedBody { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server =
        Server::always(Reply::empty(307).header("location", "http://127.0.0.1:9/elsewhere")).await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retry_after_seconds_and_date_are_surfaced() {
    let server = Server::always(
        Reply::json(429, r#"{"error":{"code":"too_fast"}}"#).header("retry-after", "120"),
    )
    .await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(RetryAfter::Seconds(120)));
    assert!(err.to_string().contains("retry after 120 s"), "{err}");

    let date = "Wed, 21 Oct 2037 07:28:00 GMT";
    let server = Server::always(Reply::empty(503).header("retry-after", date)).await;
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(
        err.retry_after(),
        Some(RetryAfter::At(
            UNIX_EPOCH + Duration::from_secs(2_139_722_880)
        ))
    );

    let server = Server::always(Reply::empty(503).header("retry-after", "whenever")).await;
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn get_retries_transient_statuses_and_succeeds() {
    let jwks = r#"{"keys":[]}"#;
    let server = Server::start(move |_, i| match i {
        0 => Reply::empty(503),
        1 => Reply::json(500, r#"{"error":{"code":"request_denied"}}"#),
        _ => Reply::json(200, jwks),
    })
    .await;
    let client = client_for(&server.url("client"));
    let keys = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap();
    assert!(keys.keys.is_empty());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn get_gives_up_after_max_attempts() {
    let server = Server::always(Reply::empty(504)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(504));
}

#[tokio::test]
async fn get_does_not_retry_client_errors() {
    let server = Server::always(Reply::json(404, r#"{"error":{"code":"invalid_request"}}"#)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn delete_retries_and_resigns_every_attempt() {
    let server = Server::start(|_, i| {
        if i < 2 {
            Reply::empty(502)
        } else {
            Reply::empty(204)
        }
    })
    .await;
    let client = client_for(&server.url("client"));
    client
        .revoke_token(&server.url("token/1"), &token())
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.method, "DELETE");
        assert_eq!(r.header("authorization"), "GNAP ACCESSTOKEN000000001");
        assert_eq!(
            support::verify(r),
            ["@method", "@target-uri", "authorization"]
        );
    }
}

#[tokio::test]
async fn post_is_never_retried() {
    for status in [408, 429, 500, 502, 503, 504] {
        let server = Server::always(Reply::empty(status)).await;
        let client = client_for(&server.url("client"));
        let err = client
            .rotate_token(&server.url("token/1"), &token())
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 1, "{status}");
        assert_eq!(server.requests().len(), 1, "{status}");
        let err = client
            .continue_grant(&server.url("continue/1"), &token(), None)
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 1, "{status}");
        assert_eq!(server.requests().len(), 2, "{status}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_each_attempt_is_signed_afresh() {
    let server = Server::start(|_, i| {
        if i == 0 {
            Reply::empty(503).header("retry-after", "1")
        } else {
            Reply::empty(204)
        }
    })
    .await;
    let client = client_for(&server.url("client"));
    let started = Instant::now();
    client
        .revoke_token(&server.url("token/1"), &token())
        .await
        .unwrap();
    // Only a lower bound: the client must have waited the second the server asked for.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let created = |r: &support::Recorded| -> i64 {
        let input = r.header("signature-input");
        input.rsplit("created=").next().unwrap().parse().unwrap()
    };
    for r in &requests {
        support::verify(r);
    }
    assert!(
        created(&requests[1]) > created(&requests[0]),
        "the retry reused `created`"
    );
}

#[tokio::test]
async fn retry_after_beyond_the_policy_ends_retries() {
    let server = Server::always(Reply::empty(503).header("retry-after", "3600")).await;
    let client = client_for(&server.url("client"));
    let err = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.retry_after(), Some(RetryAfter::Seconds(3600)));
}

#[tokio::test]
async fn timeout_is_ambiguous_and_not_retried() {
    let server =
        Server::always(Reply::json(200, r#"{"keys":[]}"#).after(Duration::from_secs(3))).await;
    let client = client_builder(&server.url("client"))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Timeout { after } if *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(err.delivery(), Delivery::Unknown);
    let err = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn timeout_covers_a_body_that_stalls() {
    let addr = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        write_chunked(&mut socket, head, &[b"{\"keys\":"], false).await;
    })
    .await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = client_builder(&base)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client
        .get_wallet_address_keys(&base.join("alice").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_not_sent_and_retried_for_get() {
    let addr = refused_addr().await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = client_for(&base);
    let err = client
        .rotate_token(&base.join("token/1").unwrap(), &token())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err:?}");
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(err.attempts(), 1);
    let err = client
        .get_wallet_address_keys(&base.join("alice").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(err.attempts(), 3);
}

#[tokio::test]
async fn connection_closed_after_the_request_is_ambiguous() {
    let addr = raw_server(|socket| async move { drop(socket) }).await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = client_for(&base);
    let err = client
        .rotate_token(&base.join("token/1").unwrap(), &token())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Connection { .. }),
        "{err:?}"
    );
    assert_eq!(err.delivery(), Delivery::Unknown);
    assert_eq!(err.attempts(), 1);
    // GET may be repeated; DELETE may not (a repeat would hide the first one's success).
    let err = client
        .get_wallet_address_keys(&base.join("alice").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    let err = client
        .revoke_token(&base.join("token/1").unwrap(), &token())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.delivery(), Delivery::Unknown);
}

#[tokio::test]
async fn body_cap_with_content_length() {
    let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(4096));
    let server = Server::always(Reply::json(200, &big)).await;
    let client = client_builder(&server.url("client"))
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let err = client
        .get_wallet_address_keys(&server.url("alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BodyTooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert_eq!(err.delivery(), Delivery::Received);
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn body_cap_while_streaming() {
    // No Content-Length: the cap must hold while chunks arrive, and the client must stop
    // reading (the server would send 64 MiB).
    let addr = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..1024 {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            if socket.write_all(&frame).await.is_err() {
                return;
            }
        }
    })
    .await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = client_builder(&base)
        .max_response_bytes(100_000)
        .build()
        .unwrap();
    let err = client
        .get_wallet_address_keys(&base.join("alice").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BodyTooLarge { limit: 100_000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_error_body_is_kept_truncated() {
    let big = "e".repeat(50_000);
    let server = Server::always(Reply::text(400, &big)).await;
    let client = client_for(&server.url("client"));
    let err = client
        .rotate_token(&server.url("token/1"), &token())
        .await
        .unwrap_err();
    let s = status_of(&err);
    assert!(s.body.is_truncated());
    assert!(s.body.len() <= 16 * 1024);
}

#[tokio::test]
async fn body_cut_short_is_a_body_read_error_after_delivery() {
    let addr = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"access_";
        let _ = socket.write_all(head.as_bytes()).await;
        // Then the connection closes, 90 bytes short.
    })
    .await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = client_for(&base);
    let err = client
        .rotate_token(&base.join("token/1").unwrap(), &token())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::BodyRead { .. }), "{err:?}");
    // The server answered 200: the rotation happened, and its answer is lost.
    assert_eq!(err.delivery(), Delivery::Received);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
}
