//! A very small browser for the demo: it opens the authorization server's redirect URL, keeps
//! the cookies the consent page sets, presses Approve (or Deny) on its form, and follows the
//! redirects to the client's finish URI, as a person's browser would. Every hop is recorded so
//! the demo can show where the browser went (with [`display_url`], which hides secrets).

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::Url;

/// The most redirects followed for one navigation.
const MAX_REDIRECTS: usize = 10;

/// Where a navigation ended.
#[derive(Debug)]
pub struct Page {
    /// The URL of the last response.
    pub url: Url,
    /// Its status.
    pub status: StatusCode,
    /// Its body.
    pub body: String,
}

/// Called with a line for each request as it leaves and each answer as it arrives.
pub type HopLog = Box<dyn Fn(String) + Send + Sync>;

/// A cookie-keeping, redirect-following HTTP client.
pub struct Browser {
    http: reqwest::Client,
    log: Option<HopLog>,
    /// `name=value` pairs, sent to every host (the demo only talks to loopback servers).
    cookies: Vec<(String, String)>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("cookies", &self.cookies.len())
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("cannot start the demo's HTTP client")?;
        Ok(Self {
            http,
            log: None,
            cookies: Vec::new(),
        })
    }

    /// Reports each request before it is sent and each answer when it arrives.
    pub fn with_log(mut self, log: HopLog) -> Self {
        self.log = Some(log);
        self
    }

    fn note(&self, line: String) {
        if let Some(log) = &self.log {
            log(line);
        }
    }

    /// Opens `url` and follows redirects.
    pub async fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        let url = Url::parse(url).with_context(|| format!("not a URL: {}", display_url(url)))?;
        self.navigate("GET", url, None).await
    }

    /// On a consent page, presses the button `choice` (`accept` or `reject`) of its form.
    pub async fn press(&mut self, page: &Page, choice: &str) -> anyhow::Result<Page> {
        let action = form_action(&page.body).with_context(|| {
            format!(
                "the page at {} has no consent form (status {})",
                display_url(page.url.as_str()),
                page.status
            )
        })?;
        let target = page
            .url
            .join(&action)
            .context("the consent form's action is not a URL")?;
        self.navigate("POST", target, Some(format!("choice={choice}")))
            .await
    }

    async fn navigate(
        &mut self,
        mut method: &'static str,
        mut url: Url,
        mut form: Option<String>,
    ) -> anyhow::Result<Page> {
        for _ in 0..=MAX_REDIRECTS {
            let mut request = match form.take() {
                Some(body) => self
                    .http
                    .post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
                None => self.http.get(url.clone()),
            };
            if !self.cookies.is_empty() {
                let header: Vec<String> = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                request = request.header(COOKIE, header.join("; "));
            }
            self.note(format!("browser: {method} {}", display_url(url.as_str())));
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {} failed", display_url(url.as_str())))?;
            let status = response.status();
            self.note(format!("browser:   ← {}", status.as_u16()));
            for value in response.headers().get_all(SET_COOKIE) {
                if let Some((name, value)) = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.split(';').next())
                    .and_then(|pair| pair.trim().split_once('='))
                {
                    self.cookies.retain(|(k, _)| k != name);
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .with_context(|| {
                        format!(
                            "{status} from {} without a Location",
                            display_url(url.as_str())
                        )
                    })?;
                url = url
                    .join(location)
                    .context("a redirect's Location is not a URL")?;
                method = "GET";
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            return Ok(Page { url, status, body });
        }
        bail!(
            "more than {MAX_REDIRECTS} redirects from {}",
            display_url(url.as_str())
        )
    }
}

/// The `action` of the first `<form>` of an HTML page.
fn form_action(html: &str) -> Option<String> {
    let form = html.find("<form")?;
    let rest = &html[form..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let start = tag.find("action=\"")? + "action=\"".len();
    let value = &tag[start..];
    let value = &value[..value.find('"')?];
    Some(value.replace("&amp;", "&"))
}

/// A URL as the demo prints it (secrets in long path segments and query values hidden).
pub use grantflow_protocol::text::display_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_is_found() {
        let html = r#"<p>x</p><form method="post" action="/auth/interact/a/b/choice"><button>"#;
        assert_eq!(
            form_action(html).as_deref(),
            Some("/auth/interact/a/b/choice")
        );
        assert_eq!(form_action("<p>no form</p>"), None);
    }
}
