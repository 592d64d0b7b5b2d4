//! Actions through the console over real HTTP: read-only without a token; with one, sign in
//! once (an HttpOnly, SameSite=Strict cookie), confirm, and POST with the session's CSRF token
//! from the console's own origin. Every other POST is refused and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is the test failing

#[path = "../../driver/tests/support/mod.rs"]
#[macro_use]
mod support;

use grantflow_console::{ConsoleConfig, OperatorToken, console_router};
use grantflow_driver::{Engine, Interaction};
use grantflow_machine::StateKind;
use grantflow_store::GrantStore;
use support::{World, wait_kind};

const TOKEN: &str = "operator-token-for-the-console-test";

/// Serves the console nested at `/console`; its origin (`http://127.0.0.1:port`).
async fn serve<S: GrantStore>(engine: &Engine<S>, config: ConsoleConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().nest("/console", console_router(engine.clone(), config));
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

/// A browser that follows no redirect and keeps no cookie (the test passes them).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Post<'a> {
    cookie: Option<&'a str>,
    origin: Option<&'a str>,
    form: Vec<(&'a str, &'a str)>,
}

async fn post(url: &str, p: Post<'_>) -> reqwest::Response {
    let mut request = browser().post(url).form(&p.form);
    if let Some(c) = p.cookie {
        request = request.header("Cookie", c);
    }
    if let Some(o) = p.origin {
        request = request.header("Origin", o);
    }
    request.send().await.unwrap()
}

async fn page(url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = browser().get(url);
    if let Some(c) = cookie {
        request = request.header("Cookie", c);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the page's hidden `csrf` field.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_console_refuses_every_action() {
    let world = World::quick().await;
    let engine = world.engine(support::sqlite().await, |_| {}).await;
    let waiting = engine
        .request(world.outgoing("read-only", Interaction::Redirect))
        .await
        .unwrap();
    let origin = serve(&engine, ConsoleConfig::read_only()).await;
    let (_, grant) = page(&format!("{origin}/console/grants/{}", waiting.id), None).await;
    assert!(grant.contains("This console is read-only"), "{grant}");
    assert!(!grant.contains("name=\"csrf\""));
    let refused = post(
        &format!("{origin}/console/grants/{}/cancel", waiting.id),
        Post {
            cookie: None,
            origin: Some(&origin),
            form: vec![("csrf", "x")],
        },
    )
    .await;
    assert_eq!(refused.status(), 403);
    let login = post(
        &format!("{origin}/console/login"),
        Post {
            cookie: None,
            origin: Some(&origin),
            form: vec![("token", TOKEN)],
        },
    )
    .await;
    assert_eq!(login.status(), 403);
    assert!(login.headers().get("set-cookie").is_none());
    assert_eq!(
        engine.get(waiting.id).await.unwrap().kind(),
        StateKind::AwaitingInteraction
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_need_the_session_its_csrf_token_and_the_consoles_origin() {
    let world = World::quick().await;
    let engine = world.engine(support::sqlite().await, |_| {}).await;
    engine.start_worker();
    let issued = world.approved_with_callback(&engine, "to-revoke").await;
    wait_kind(&engine, issued, StateKind::Issued).await;
    let waiting = engine
        .request(world.outgoing("to-cancel", Interaction::Redirect))
        .await
        .unwrap();
    let config = ConsoleConfig::read_only().with_operator_token(OperatorToken::new(TOKEN).unwrap());
    let origin = serve(&engine, config).await;
    let console = format!("{origin}/console");

    // Signed out: the page offers to sign in; a confirmation page sends there.
    let (_, grant) = page(&format!("{console}/grants/{}", waiting.id), None).await;
    assert!(grant.contains("Sign in"), "{grant}");
    let confirm = browser()
        .get(format!("{console}/grants/{}/cancel", waiting.id))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 303);
    assert!(
        confirm.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/login?next=")
    );

    // Signing in: the right token, from the console's own page.
    let login = |token: &'static str, from: Option<&'static str>| {
        let url = format!("{console}/login");
        let origin = origin.clone();
        async move {
            let from = from.map(|f| {
                if f == "self" {
                    origin.clone()
                } else {
                    f.to_owned()
                }
            });
            post(
                &url,
                Post {
                    cookie: None,
                    origin: from.as_deref(),
                    form: vec![("token", token), ("next", "/console")],
                },
            )
            .await
        }
    };
    assert_eq!(
        login("not-the-operator-token", Some("self")).await.status(),
        403
    );
    assert_eq!(login(TOKEN, None).await.status(), 403);
    assert_eq!(
        login(TOKEN, Some("http://evil.example")).await.status(),
        403
    );
    let signed_in = login(TOKEN, Some("self")).await;
    assert_eq!(signed_in.status(), 303);
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    // The confirmation page carries the session's CSRF token.
    let (status, confirm) = page(
        &format!("{console}/grants/{}/cancel", waiting.id),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 200, "{confirm}");
    assert!(confirm.contains("<title>Cancel grant "), "{confirm}");
    let csrf = csrf_of(&confirm);

    // Refused: no session, a wrong CSRF token, another origin, no origin; nothing changes.
    let cancel = format!("{console}/grants/{}/cancel", waiting.id);
    for (what, p) in [
        (
            "no session",
            Post {
                cookie: None,
                origin: Some(&origin),
                form: vec![("csrf", &csrf)],
            },
        ),
        (
            "wrong CSRF",
            Post {
                cookie: Some(&cookie),
                origin: Some(&origin),
                form: vec![("csrf", "bm90LWl0")],
            },
        ),
        (
            "no CSRF",
            Post {
                cookie: Some(&cookie),
                origin: Some(&origin),
                form: vec![],
            },
        ),
        (
            "other origin",
            Post {
                cookie: Some(&cookie),
                origin: Some("http://evil.example"),
                form: vec![("csrf", &csrf)],
            },
        ),
        (
            "no origin",
            Post {
                cookie: Some(&cookie),
                origin: None,
                form: vec![("csrf", &csrf)],
            },
        ),
    ] {
        let response = post(&cancel, p).await;
        assert_eq!(response.status(), 403, "{what}");
        let body = response.text().await.unwrap();
        assert!(body.contains("refused"), "{what}: {body}");
    }
    assert_eq!(
        engine.get(waiting.id).await.unwrap().kind(),
        StateKind::AwaitingInteraction
    );

    // Accepted: cancel the waiting grant, revoke the issued one.
    let done = post(
        &cancel,
        Post {
            cookie: Some(&cookie),
            origin: Some(&origin),
            form: vec![("csrf", &csrf)],
        },
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()["location"].to_str().unwrap(),
        format!("/console/grants/{}", waiting.id)
    );
    wait_kind(&engine, waiting.id, StateKind::Canceled).await;
    let (_, revoke_page) = page(&format!("{console}/grants/{issued}"), Some(&cookie)).await;
    assert!(
        revoke_page.contains(&format!("href=\"/console/grants/{issued}/revoke\"")),
        "{revoke_page}"
    );
    let revoked = post(
        &format!("{console}/grants/{issued}/revoke"),
        Post {
            cookie: Some(&cookie),
            origin: Some(&origin),
            form: vec![("csrf", &csrf)],
        },
    )
    .await;
    assert_eq!(revoked.status(), 303);
    wait_kind(&engine, issued, StateKind::Revoked).await;

    // Signing out clears the cookie.
    let out = post(
        &format!("{console}/logout"),
        Post {
            cookie: Some(&cookie),
            origin: Some(&origin),
            form: vec![("csrf", &csrf)],
        },
    )
    .await;
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    engine.shutdown().await;
}
