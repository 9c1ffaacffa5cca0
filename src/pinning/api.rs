//! A client of one pinning service: the IPFS Pinning Service API v1.0.0
//! (ipfs/pinning-services-api-spec `ipfs-pinning-service.yaml`), as IPFS Cluster's
//! `pinsvcapi` and the commercial services serve it.
//!
//! - Every call sends `Authorization: Bearer <token>` (securitySchemes.accessToken) and
//!   nothing else secret; redirects are not followed (a redirect must not carry the token
//!   to another host), each call has a time limit ([`CALL_TIMEOUT`]), and each reply body
//!   is capped ([`MAX_BODY_BYTES`]) before it is parsed.
//! - Replies are parsed liberally: missing fields take defaults, unknown fields are
//!   ignored, `info` values that are not strings are kept as their JSON text.
//! - Errors ([`ServiceError`]) keep what the service said (`{"error": {"reason",
//!   "details"}}`, components/schemas/Failure) and its `Retry-After` (RFC 9110 section
//!   10.2.3: seconds or an HTTP date), and never the token: a reply that echoes it is
//!   scrubbed.

use crate::station::remote_pinning::{AccessToken, RemoteService};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Time limit of one call, connection included (seconds).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest reply body read, bytes: a page of 1,000 pin statuses with their
/// delegates and meta (spec: `results` maxItems 1000) fits in 4 MiB.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// The longest `Retry-After` honoured; a longer one waits this long (1 hour).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Page size of [`Client::list`]: the spec's maximum (components/parameters/limit).
pub const LIST_LIMIT: usize = 1000;
/// Pages [`Client::list_all`] reads at most (a station holds a handful of requests).
pub const MAX_PAGES: usize = 10;

/// `Pin` (components/schemas/Pin): what to pin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pin {
    /// The root CID, pinned recursively.
    #[serde(default)]
    pub cid: String,
    /// Name, at most 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider hints: multiaddrs ending in `/p2p/<peer ID>`, at most 20.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "liberal_vec"
    )]
    pub origins: Vec<String>,
    /// String metadata.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "liberal_map"
    )]
    pub meta: BTreeMap<String, String>,
}

/// `Status` (components/schemas/Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In the service's queue, nothing fetched yet.
    Queued,
    /// Being fetched from the network.
    Pinning,
    /// Held by the service.
    Pinned,
    /// Given up (`info.status_details` may say why).
    Failed,
}

impl Status {
    /// Every status, for listings that want all of them (the default is `pinned` only).
    pub const ALL: [Status; 4] = [
        Status::Queued,
        Status::Pinning,
        Status::Pinned,
        Status::Failed,
    ];

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Pinning => "pinning",
            Status::Pinned => "pinned",
            Status::Failed => "failed",
        }
    }

    /// Whether the service is still working on it.
    pub fn pending(self) -> bool {
        matches!(self, Status::Queued | Status::Pinning)
    }
}

/// `PinStatus` (components/schemas/PinStatus): a pin request as the service holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PinStatus {
    /// The request's id.
    #[serde(deserialize_with = "liberal_string")]
    pub requestid: String,
    /// Where it is; a status this client does not know reads as `queued` (pending).
    #[serde(default = "queued", deserialize_with = "liberal_status")]
    pub status: Status,
    /// When the request was made (RFC 3339), if the reply says.
    #[serde(default, deserialize_with = "liberal_time")]
    pub created: Option<DateTime<Utc>>,
    /// The pin as the service holds it.
    #[serde(default)]
    pub pin: Pin,
    /// Peers the service fetches through.
    #[serde(default, deserialize_with = "liberal_vec")]
    pub delegates: Vec<String>,
    /// Vendor information (`status_details`, `dag_size`, ...).
    #[serde(default, deserialize_with = "liberal_map")]
    pub info: BTreeMap<String, String>,
}

fn queued() -> Status {
    Status::Queued
}

/// `PinResults` (components/schemas/PinResults).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PinResults {
    /// How many requests match the filters in all (more than `results` holds: page on).
    #[serde(default, deserialize_with = "liberal_u64")]
    pub count: u64,
    /// This page, newest first.
    #[serde(default)]
    pub results: Vec<PinStatus>,
}

fn liberal_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn liberal_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn liberal_status<'de, D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
    let s = liberal_string(d)?;
    Ok(match s.to_ascii_lowercase().as_str() {
        "pinning" => Status::Pinning,
        "pinned" => Status::Pinned,
        "failed" => Status::Failed,
        _ => Status::Queued,
    })
}

fn liberal_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s = liberal_string(d)?;
    Ok(DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc)))
}

fn liberal_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(a) => a
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    })
}

fn liberal_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(o) => o
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// What went wrong with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer: refused, reset, DNS, TLS (the text says which).
    Unreachable(String),
    /// No answer within [`CALL_TIMEOUT`].
    Timeout,
    /// An HTTP error status, with the service's `reason` and `details` when its body had
    /// them (components/schemas/Failure).
    Status {
        /// HTTP status (401, 403, 404, 409, 429, 5xx...).
        status: u16,
        /// `error.reason` (e.g. `UNAUTHORIZED`, `INSUFFICIENT_FUNDS`), or empty.
        reason: String,
        /// `error.details`, or the start of the body, or empty.
        details: String,
    },
    /// A 2xx reply that is not what the spec says (not JSON, no `requestid`, too big).
    BadReply(String),
}

/// A failed call to the service named `service`: what failed and how long the service
/// asked to wait (`Retry-After`, at most [`MAX_RETRY_AFTER`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The service's name (`remote_pinning[].name`).
    pub service: String,
    /// The call (`POST /pins`).
    pub call: String,
    /// What went wrong.
    pub failure: Failure,
    /// The wait the service asked for.
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    /// HTTP status of a [`Failure::Status`].
    pub fn status(&self) -> Option<u16> {
        match &self.failure {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the token was refused (401, 403): the operator has to act.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: ", self.service, self.call)?;
        match &self.failure {
            Failure::Unreachable(why) => write!(f, "no answer ({why})"),
            Failure::Timeout => write!(f, "no answer within {} s", CALL_TIMEOUT.as_secs()),
            Failure::Status {
                status,
                reason,
                details,
            } => {
                write!(f, "HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if !details.is_empty() {
                    write!(f, ": {details}")?;
                }
                match status {
                    401 | 403 => write!(f, " (check the access token file)")?,
                    429 => write!(f, " (rate limited)")?,
                    _ => {}
                }
                Ok(())
            }
            Failure::BadReply(why) => write!(f, "a reply the API does not define ({why})"),
        }?;
        if let Some(d) = self.retry_after {
            write!(f, "; asked to wait {} s", d.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// The seconds or HTTP date of a `Retry-After` value (RFC 9110 section 10.2.3) as a wait
/// from `now`, at most [`MAX_RETRY_AFTER`]; `None` when unreadable.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    let wait = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// One pinning service, with its token.
#[derive(Debug, Clone)]
pub struct Client {
    name: String,
    endpoint: reqwest::Url,
    token: AccessToken,
    http: reqwest::Client,
}

impl Client {
    /// A client of `service` sending `token`.
    ///
    /// Errors: [`crate::error::Error::Http`] when the HTTP client cannot be built, or the
    /// endpoint is not a URL (validated configs always are).
    pub fn new(service: &RemoteService, token: AccessToken) -> crate::error::Result<Client> {
        let http_err = |reason: String| crate::error::Error::Http {
            what: format!("pinning service {}", service.name),
            reason,
        };
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ipfs-station/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| http_err(e.to_string()))?;
        let endpoint =
            reqwest::Url::parse(&service.endpoint).map_err(|e| http_err(e.to_string()))?;
        Ok(Client {
            name: service.name.clone(),
            endpoint,
            token,
            http,
        })
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn url(&self, requestid: Option<&str>) -> reqwest::Url {
        let mut u = self.endpoint.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push("pins");
            if let Some(id) = requestid {
                segs.push(id);
            }
        }
        u
    }

    /// `POST /pins` (paths./pins.post, 202 `PinStatus`): a new request.
    ///
    /// Errors: [`ServiceError`].
    pub async fn add(&self, pin: &Pin) -> Result<PinStatus, ServiceError> {
        let r = self.http.post(self.url(None)).json(pin);
        self.status_reply("POST /pins", r).await
    }

    /// `POST /pins/{requestid}` (paths./pins/{requestid}.post, 202 `PinStatus`): replaces
    /// the request by a new one for `pin`; "the old pin object is deleted automatically"
    /// (the spec's "Replacing an existing pin object"). The new request has a new id.
    ///
    /// Errors: [`ServiceError`]; 404 when the old request is gone.
    pub async fn replace(&self, requestid: &str, pin: &Pin) -> Result<PinStatus, ServiceError> {
        let r = self.http.post(self.url(Some(requestid))).json(pin);
        self.status_reply("POST /pins/{requestid}", r).await
    }

    /// `GET /pins/{requestid}`: the request, `None` when the service answers 404 (gone).
    ///
    /// Errors: [`ServiceError`].
    pub async fn get(&self, requestid: &str) -> Result<Option<PinStatus>, ServiceError> {
        let r = self.http.get(self.url(Some(requestid)));
        match self.status_reply("GET /pins/{requestid}", r).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /pins/{requestid}` (202): `false` when it was gone already (404).
    ///
    /// Errors: [`ServiceError`].
    pub async fn delete(&self, requestid: &str) -> Result<bool, ServiceError> {
        const CALL: &str = "DELETE /pins/{requestid}";
        let r = self.http.delete(self.url(Some(requestid)));
        match self.send(CALL, r).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of `GET /pins?name=<name>&match=exact&status=<statuses>&limit=1000`
    /// (`before` = the `created` of the oldest result so far, to page on).
    ///
    /// Errors: [`ServiceError`].
    pub async fn list(
        &self,
        name: &str,
        statuses: &[Status],
        before: Option<DateTime<Utc>>,
    ) -> Result<PinResults, ServiceError> {
        let status = statuses
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let limit = LIST_LIMIT.to_string();
        let mut q: Vec<(&str, String)> = vec![
            ("name", name.to_string()),
            ("match", "exact".into()),
            ("status", status),
            ("limit", limit),
        ];
        if let Some(b) = before {
            q.push((
                "before",
                b.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ));
        }
        let r = self.http.get(self.url(None)).query(&q);
        let body = self.send("GET /pins", r).await?;
        serde_json::from_slice(&body).map_err(|e| self.bad("GET /pins", e.to_string()))
    }

    /// Every request named `name` in any status, paging with `before` (the spec's
    /// "Pagination and filtering"), at most [`MAX_PAGES`] pages.
    ///
    /// Errors: [`ServiceError`].
    pub async fn list_all(&self, name: &str) -> Result<Vec<PinStatus>, ServiceError> {
        let mut all: Vec<PinStatus> = Vec::new();
        let mut before = None;
        for _ in 0..MAX_PAGES {
            let page = self.list(name, &Status::ALL, before).await?;
            let n = page.results.len();
            let oldest = page.results.iter().filter_map(|s| s.created).min();
            for s in page.results {
                if !all.iter().any(|a| a.requestid == s.requestid) {
                    all.push(s);
                }
            }
            if n == 0 || all.len() as u64 >= page.count || oldest.is_none() || oldest == before {
                break;
            }
            before = oldest;
        }
        Ok(all)
    }

    fn bad(&self, call: &str, why: String) -> ServiceError {
        ServiceError {
            service: self.name.clone(),
            call: call.into(),
            failure: Failure::BadReply(self.scrub(&why)),
            retry_after: None,
        }
    }

    /// `text` with the token taken out (a service may echo a bad token back).
    fn scrub(&self, text: &str) -> String {
        let secret = self.token.secret();
        let t = if secret.is_empty() {
            text.to_string()
        } else {
            text.replace(secret, "<token>")
        };
        crate::station::text::display_text(&t, 300)
    }

    async fn status_reply(
        &self,
        call: &str,
        r: reqwest::RequestBuilder,
    ) -> Result<PinStatus, ServiceError> {
        let body = self.send(call, r).await?;
        let s: PinStatus =
            serde_json::from_slice(&body).map_err(|e| self.bad(call, e.to_string()))?;
        if s.requestid.is_empty() {
            return Err(self.bad(call, "the PinStatus has no requestid".into()));
        }
        Ok(s)
    }

    /// Sends `r` with the token; a 2xx body (capped), else the error.
    async fn send(&self, call: &str, r: reqwest::RequestBuilder) -> Result<Vec<u8>, ServiceError> {
        let fail = |failure: Failure, retry_after: Option<Duration>| ServiceError {
            service: self.name.clone(),
            call: call.into(),
            failure,
            retry_after,
        };
        let resp = r
            .bearer_auth(self.token.secret())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    fail(Failure::Timeout, None)
                } else {
                    fail(Failure::Unreachable(self.scrub(&error_chain(&e))), None)
                }
            })?;
        let status = resp.status();
        let wait = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, Utc::now()));
        let body = read_capped(resp, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::Timeout => fail(Failure::Timeout, wait),
                ReadError::TooBig => fail(
                    Failure::BadReply(format!("the reply is over {MAX_BODY_BYTES} bytes")),
                    wait,
                ),
                ReadError::Broken(why) => fail(Failure::Unreachable(self.scrub(&why)), wait),
            })?;
        if status.is_success() {
            return Ok(body);
        }
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(default, deserialize_with = "liberal_string")]
            reason: String,
            #[serde(default, deserialize_with = "liberal_string")]
            details: String,
        }
        let (reason, details) = match serde_json::from_slice::<Body>(&body) {
            Ok(b) => (b.error.reason, b.error.details),
            Err(_) => (String::new(), String::from_utf8_lossy(&body).into_owned()),
        };
        Err(fail(
            Failure::Status {
                status: status.as_u16(),
                reason: self.scrub(&reason),
                details: self.scrub(&details),
            },
            wait,
        ))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

enum ReadError {
    Timeout,
    TooBig,
    Broken(String),
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(ReadError::TooBig);
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > cap {
                    return Err(ReadError::TooBig);
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) if e.is_timeout() => return Err(ReadError::Timeout),
            Err(e) => return Err(ReadError::Broken(error_chain(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn replies_are_read_liberally() {
        // Numbers for strings, a status this client does not know, info that is not all
        // strings, no pin at all: still a request with an id.
        let s: PinStatus = serde_json::from_str(
            r#"{"requestid": 42, "status": "archived", "created": "2026-12-07T12:00:00.123Z",
                "info": {"dag_size": 1234, "status_details": "ok"}, "extra": true}"#,
        )
        .unwrap();
        assert_eq!(s.requestid, "42");
        assert_eq!(s.status, Status::Queued);
        assert_eq!(s.info["dag_size"], "1234");
        assert!(s.created.is_some());
        assert_eq!(s.pin, Pin::default());
        let r: PinResults = serde_json::from_str(r#"{"count": "3", "results": []}"#).unwrap();
        assert_eq!(r.count, 3);
    }

    #[test]
    fn request_urls_append_pins_to_the_endpoint() {
        let svc = RemoteService {
            name: "c".into(),
            endpoint: "https://p.example/api/v1".into(),
            access_token_file: "/t".into(),
        };
        let tok: AccessToken = test_token();
        let c = Client::new(&svc, tok).unwrap();
        assert_eq!(c.url(None).as_str(), "https://p.example/api/v1/pins");
        assert_eq!(
            c.url(Some("a/b?c")).as_str(),
            "https://p.example/api/v1/pins/a%2Fb%3Fc"
        );
        let svc = RemoteService {
            endpoint: "http://127.0.0.1:9097".into(),
            ..svc
        };
        let c = Client::new(&svc, test_token()).unwrap();
        assert_eq!(c.url(None).as_str(), "http://127.0.0.1:9097/pins");
    }

    fn test_token() -> AccessToken {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        std::fs::write(&p, "secret-token").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        crate::station::remote_pinning::read_token(&RemoteService {
            name: "c".into(),
            endpoint: "https://p.example".into(),
            access_token_file: p,
        })
        .unwrap()
    }

    #[test]
    fn errors_never_carry_the_token() {
        let svc = RemoteService {
            name: "c".into(),
            endpoint: "https://p.example".into(),
            access_token_file: "/t".into(),
        };
        let c = Client::new(&svc, test_token()).unwrap();
        let e = c.bad("GET /pins", "bad token secret-token given".into());
        assert!(!e.to_string().contains("secret-token"), "{e}");
        assert!(e.to_string().contains("<token>"));
    }
}
