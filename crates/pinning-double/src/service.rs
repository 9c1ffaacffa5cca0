//! The HTTP side: routes, authentication, faults, `Pin` validation, `GET /pins` filters.
//! Section names in comments are those of `ipfs-pinning-service.yaml` v1.0.0.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::{Fault, Pin, Record, Shared, Status, DELEGATE};

type Sh = AxState<Arc<Shared>>;

/// The API's routes, behind the call counter, the faults and authentication.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/pins", get(list).post(add))
        .route(
            "/pins/{requestid}",
            get(get_one).post(replace).delete(remove),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gatekeeper,
        ))
        .with_state(shared)
}

/// `components/schemas/Failure`: `{"error":{"reason","details"}}` with `status`.
pub(crate) fn failure(status: StatusCode, reason: &str, details: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"reason": reason, "details": details}}),
    )
}

fn bad_request(details: &str) -> Response {
    // components/examples/BadRequestExample
    failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", details)
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The spec's `reason` for an error status (components/examples), else the HTTP reason
/// phrase in the same upper-snake style.
pub(crate) fn reason_for(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "BAD_REQUEST".into(),
        401 => "UNAUTHORIZED".into(),
        404 => "NOT_FOUND".into(),
        409 => "INSUFFICIENT_FUNDS".into(),
        500..=599 => "INTERNAL_SERVER_ERROR".into(),
        _ => status
            .canonical_reason()
            .map(|p| {
                p.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_uppercase()
                        } else {
                            '_'
                        }
                    })
                    .collect()
            })
            .unwrap_or_else(|| "CUSTOM_ERROR_CODE_FOR_MACHINES".into()),
    }
}

/// The [`crate::PinningDouble::calls`] key of a request.
fn route_key(method: &Method, path: &str) -> String {
    let route = match path.strip_prefix("/pins/") {
        _ if path == "/pins" => "/pins",
        Some(rest) if !rest.is_empty() && !rest.contains('/') => "/pins/{requestid}",
        _ => path,
    };
    format!("{method} {route}")
}

/// Counts the call, applies the fault, then checks the bearer token
/// (components/securitySchemes/accessToken: "An opaque token is required to be sent with
/// each request in the HTTP header: `Authorization: Bearer <access-token>`").
async fn gatekeeper(AxState(sh): Sh, req: Request, next: Next) -> Response {
    let fault = {
        let mut s = sh.lock();
        *s.calls
            .entry(route_key(req.method(), req.uri().path()))
            .or_insert(0) += 1;
        if let Some(v) = req.headers().get(header::AUTHORIZATION) {
            s.seen_authorization
                .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
        }
        let fault = s.fault.clone();
        match s.fault_left {
            Some(n) if n <= 1 => {
                s.fault = Fault::None;
                s.fault_left = None;
            }
            Some(n) => s.fault_left = Some(n - 1),
            None => {}
        }
        fault
    };
    match fault {
        Fault::None => {}
        Fault::Status {
            status,
            retry_after,
        } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = failure(
                code,
                &reason_for(code),
                &format!("fault injected by the pinning service double: HTTP {code}"),
            );
            if let Some(secs) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return r;
        }
        Fault::Delay(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = sh.stopped() => return stopping(),
            }
        }
        Fault::Hang => {
            sh.stopped().await;
            return stopping();
        }
    }
    let token = sh.lock().token.clone();
    if let Err(details) = authorized(req.headers(), &token) {
        // components/responses/Unauthorized: "access token is missing or invalid"
        return failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", details);
    }
    next.run(req).await
}

fn stopping() -> Response {
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL_SERVER_ERROR",
        "the pinning service double is stopping",
    )
}

/// `Ok` when the request carries `Authorization: Bearer <token>` (the scheme name is
/// case-insensitive, RFC 7235 section 2.1).
fn authorized(h: &HeaderMap, token: &str) -> Result<(), &'static str> {
    let Some(v) = h.get(header::AUTHORIZATION) else {
        return Err("Access token is missing: no Authorization header");
    };
    let Ok(v) = v.to_str() else {
        return Err("Access token is invalid");
    };
    let Some((scheme, cred)) = v.split_once(' ') else {
        return Err("Access token is missing: expected Authorization: Bearer <access-token>");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Access token is missing: expected Authorization: Bearer <access-token>");
    }
    if cred.trim_start_matches(' ') != token {
        return Err("Access token is invalid");
    }
    Ok(())
}

async fn not_found() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The specified resource was not found",
    )
}

async fn method_not_allowed() -> Response {
    failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this method is not defined on this path by the Pinning Service API",
    )
}

fn pin_not_found(requestid: &str) -> Response {
    // components/examples/NotFoundExample
    failure(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!(
            "The specified resource was not found: no pin object with requestid {requestid:?}"
        ),
    )
}

/// `components/schemas/PinStatus` of `r` now.
fn pin_status(r: &Record, now: Instant) -> Value {
    let status = r.status_at(now);
    let mut pin = Map::new();
    pin.insert("cid".into(), Value::String(r.pin.cid.clone()));
    if let Some(n) = &r.pin.name {
        pin.insert("name".into(), Value::String(n.clone()));
    }
    if let Some(o) = &r.pin.origins {
        pin.insert(
            "origins".into(),
            Value::Array(o.iter().cloned().map(Value::String).collect()),
        );
    }
    if let Some(m) = &r.pin.meta {
        pin.insert(
            "meta".into(),
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
    }
    let mut out = Map::new();
    out.insert("requestid".into(), Value::String(r.requestid.clone()));
    out.insert("status".into(), Value::String(status.as_str().into()));
    out.insert("created".into(), Value::String(r.created_string()));
    out.insert("pin".into(), Value::Object(pin));
    out.insert("delegates".into(), json!([DELEGATE]));
    if let (Status::Failed, Some(reason)) = (status, &r.failure) {
        out.insert("info".into(), json!({ "status_details": reason }));
    }
    Value::Object(out)
}

/// `requestBody` of `POST /pins` and `POST /pins/{requestid}`: `content: application/json`,
/// schema `Pin`.
/// Errors: the 400 `details`.
fn parse_pin(h: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Pin, String> {
    let json_type = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(
            "the request body must be a Pin object sent as Content-Type: application/json".into(),
        );
    }
    let body = body.map_err(|e| format!("the request body could not be read: {e}"))?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    validate_pin(&v)
}

/// `components/schemas/Pin`: `cid` required (a string that parses as a CID), `name` at
/// most 255 characters, `origins` at most 20 unique multiaddrs each ending in
/// `/p2p/<peerID>`, `meta` string values and at most 1000 keys. Other fields are ignored
/// (the schema does not forbid additional properties). Errors name the field.
pub(crate) fn validate_pin(v: &Value) -> Result<Pin, String> {
    let Some(o) = v.as_object() else {
        return Err("the request body must be a JSON object (schema Pin)".into());
    };
    let cid = match o.get("cid") {
        None => return Err("cid: required".into()),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("cid: must be a string".into()),
    };
    if let Err(e) = cid::Cid::try_from(cid.as_str()) {
        return Err(format!("cid: {cid:?} is not a valid CID ({e})"));
    }
    let name = match o.get("name") {
        None => None,
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n > 255 {
                return Err(format!(
                    "name: {n} characters, longer than the maximum of 255"
                ));
            }
            Some(s.clone())
        }
        Some(_) => return Err("name: must be a string".into()),
    };
    let origins = match o.get("origins") {
        None => None,
        Some(Value::Array(a)) => {
            if a.len() > 20 {
                return Err(format!(
                    "origins: {} items, more than the maximum of 20",
                    a.len()
                ));
            }
            let mut seen = BTreeSet::new();
            let mut out = Vec::with_capacity(a.len());
            for item in a {
                let Value::String(s) = item else {
                    return Err("origins: every item must be a string".into());
                };
                check_p2p_multiaddr(s).map_err(|e| format!("origins: {e}"))?;
                if !seen.insert(s.clone()) {
                    return Err(format!("origins: {s:?} is listed twice (uniqueItems)"));
                }
                out.push(s.clone());
            }
            Some(out)
        }
        Some(_) => return Err("origins: must be an array of multiaddr strings".into()),
    };
    let meta = match o.get("meta") {
        None => None,
        Some(m) => Some(string_map(m).map_err(|e| format!("meta: {e}"))?),
    };
    Ok(Pin {
        cid,
        name,
        origins,
        meta,
    })
}

/// Provider hints: "All multiaddrs MUST end with `/p2p/{peerID}`".
fn check_p2p_multiaddr(s: &str) -> Result<(), String> {
    let ma: multiaddr::Multiaddr = s
        .parse()
        .map_err(|e| format!("{s:?} is not a valid multiaddr ({e})"))?;
    match ma.iter().last() {
        Some(multiaddr::Protocol::P2p(_)) => Ok(()),
        _ => Err(format!("{s:?} does not end with /p2p/<peerID>")),
    }
}

/// `components/schemas/PinMeta`: an object of string values, at most 1000 keys.
fn string_map(v: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(m) = v else {
        return Err("must be a JSON object of string values".into());
    };
    if m.len() > 1000 {
        return Err(format!("{} keys, more than the maximum of 1000", m.len()));
    }
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!("the value of {k:?} must be a string")),
        })
        .collect()
}

/// `paths./pins.post` (addPin): 202 with the new `PinStatus`.
async fn add(AxState(sh): Sh, h: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let pin = match parse_pin(&h, body) {
        Ok(p) => p,
        Err(d) => return bad_request(&d),
    };
    let mut s = sh.lock();
    let i = s.create(pin);
    json_response(
        StatusCode::ACCEPTED,
        &pin_status(&s.pins[i], Instant::now()),
    )
}

/// Errors: the 400 `details`.
fn requestid(p: Result<Path<String>, PathRejection>) -> Result<String, String> {
    p.map(|Path(id)| id).map_err(|e| format!("requestid: {e}"))
}

/// `paths./pins/{requestid}.get` (getPinByRequestId): 200 with the `PinStatus`, 404 if
/// there is no such pin object.
async fn get_one(AxState(sh): Sh, p: Result<Path<String>, PathRejection>) -> Response {
    let id = match requestid(p) {
        Ok(id) => id,
        Err(d) => return bad_request(&d),
    };
    let s = sh.lock();
    match s.pins.iter().find(|r| r.requestid == id) {
        Some(r) => json_response(StatusCode::OK, &pin_status(r, Instant::now())),
        None => pin_not_found(&id),
    }
}

/// `paths./pins/{requestid}.post` (replacePinByRequestId): "The new pin object
/// `requestid` is returned in the `PinStatus` response. The old pin object is deleted
/// automatically." 202; 404 if there is no such pin object (checked before the body); a
/// 400 leaves the old one in place.
async fn replace(
    AxState(sh): Sh,
    p: Result<Path<String>, PathRejection>,
    h: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = match requestid(p) {
        Ok(id) => id,
        Err(d) => return bad_request(&d),
    };
    if !sh.lock().pins.iter().any(|r| r.requestid == id) {
        return pin_not_found(&id);
    }
    let pin = match parse_pin(&h, body) {
        Ok(p) => p,
        Err(d) => return bad_request(&d),
    };
    let mut s = sh.lock();
    // Looked up again: it may have been deleted while the body was checked.
    let Some(old) = s.pins.iter().position(|r| r.requestid == id) else {
        return pin_not_found(&id);
    };
    s.pins.remove(old);
    let i = s.create(pin);
    json_response(
        StatusCode::ACCEPTED,
        &pin_status(&s.pins[i], Instant::now()),
    )
}

/// `paths./pins/{requestid}.delete` (deletePinByRequestId): "202: Successful response
/// (no body, pin removed)"; 404 if there is no such pin object.
async fn remove(AxState(sh): Sh, p: Result<Path<String>, PathRejection>) -> Response {
    let id = match requestid(p) {
        Ok(id) => id,
        Err(d) => return bad_request(&d),
    };
    let mut s = sh.lock();
    match s.pins.iter().position(|r| r.requestid == id) {
        Some(i) => {
            s.pins.remove(i);
            (StatusCode::ACCEPTED, Body::empty()).into_response()
        }
        None => pin_not_found(&id),
    }
}

/// `components/schemas/TextMatchingStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Exact,
    Iexact,
    Partial,
    Ipartial,
}

/// The `GET /pins` query, validated (`paths./pins.get.parameters`).
#[derive(Debug)]
struct Filters {
    cids: Option<Vec<String>>,
    name: Option<String>,
    matching: Match,
    statuses: BTreeSet<Status>,
    before: Option<chrono::DateTime<chrono::Utc>>,
    after: Option<chrono::DateTime<chrono::Utc>>,
    limit: usize,
    meta: Option<BTreeMap<String, String>>,
}

/// A `style: form, explode: false` array (`?cid=Qm1,Qm2`): no empty item, no item twice
/// (`uniqueItems: true`).
fn form_array(param: &str, v: &str) -> Result<Vec<String>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in v.split(',') {
        if item.is_empty() {
            return Err(format!("{param}: empty item in {v:?}"));
        }
        if !seen.insert(item) {
            return Err(format!("{param}: {item:?} is given twice (uniqueItems)"));
        }
        out.push(item.to_string());
    }
    Ok(out)
}

fn timestamp(param: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{param}: {v:?} is not an RFC 3339 date-time ({e})"))
}

/// Parses the query of `GET /pins`; errors name the parameter. Unknown parameters are
/// ignored; a parameter given twice is refused (every array parameter is `explode:
/// false`, one comma-separated value).
fn filters(query: Option<&str>) -> Result<Filters, String> {
    let mut f = Filters {
        cids: None,
        name: None,
        matching: Match::Exact,
        // components/parameters/status: "when missing, service should default to pinned
        // only".
        statuses: BTreeSet::from([Status::Pinned]),
        before: None,
        after: None,
        // components/parameters/limit: default 10.
        limit: 10,
        meta: None,
    };
    let mut seen = BTreeSet::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let known = [
            "cid", "name", "match", "status", "before", "after", "limit", "meta",
        ];
        if !known.contains(&k.as_ref()) {
            continue;
        }
        if !seen.insert(k.to_string()) {
            return Err(format!(
                "{k}: given more than once (send one comma-separated value)"
            ));
        }
        match k.as_ref() {
            "cid" => {
                // components/parameters/cid: minItems 1, maxItems 10.
                let cids = form_array("cid", &v)?;
                if cids.len() > 10 {
                    return Err(format!(
                        "cid: {} CIDs, more than the maximum of 10",
                        cids.len()
                    ));
                }
                f.cids = Some(cids);
            }
            "name" => {
                // components/parameters/name: maxLength 255.
                let n = v.chars().count();
                if n > 255 {
                    return Err(format!(
                        "name: {n} characters, longer than the maximum of 255"
                    ));
                }
                f.name = Some(v.into_owned());
            }
            "match" => {
                f.matching = match v.as_ref() {
                    "exact" => Match::Exact,
                    "iexact" => Match::Iexact,
                    "partial" => Match::Partial,
                    "ipartial" => Match::Ipartial,
                    _ => {
                        return Err(format!(
                            "match: {v:?} is not one of exact, iexact, partial, ipartial"
                        ))
                    }
                };
            }
            "status" => {
                let mut set = BTreeSet::new();
                for item in form_array("status", &v)? {
                    let s = Status::parse(&item).ok_or_else(|| {
                        format!("status: {item:?} is not one of queued, pinning, pinned, failed")
                    })?;
                    set.insert(s);
                }
                f.statuses = set;
            }
            "before" => f.before = Some(timestamp("before", &v)?),
            "after" => f.after = Some(timestamp("after", &v)?),
            "limit" => {
                // components/parameters/limit: integer, minimum 1, maximum 1000.
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("limit: {v:?} is not an integer"))?;
                if !(1..=1000).contains(&n) {
                    return Err(format!("limit: {n} is outside 1..1000"));
                }
                f.limit =
                    usize::try_from(n).map_err(|_| format!("limit: {n} is outside 1..1000"))?;
            }
            "meta" => {
                let m: Value = serde_json::from_str(&v)
                    .map_err(|e| format!("meta: not a JSON object ({e})"))?;
                f.meta = Some(string_map(&m).map_err(|e| format!("meta: {e}"))?);
            }
            _ => {}
        }
    }
    Ok(f)
}

impl Filters {
    fn matches(&self, r: &Record, now: Instant) -> bool {
        if !self.statuses.contains(&r.status_at(now)) {
            return false;
        }
        if let Some(cids) = &self.cids {
            if !cids.contains(&r.pin.cid) {
                return false;
            }
        }
        if let Some(want) = &self.name {
            let Some(have) = &r.pin.name else {
                return false;
            };
            let ok = match self.matching {
                Match::Exact => have == want,
                Match::Iexact => have.to_lowercase() == want.to_lowercase(),
                Match::Partial => have.contains(want.as_str()),
                Match::Ipartial => have.to_lowercase().contains(&want.to_lowercase()),
            };
            if !ok {
                return false;
            }
        }
        if self.before.is_some_and(|b| r.created >= b) {
            return false;
        }
        if self.after.is_some_and(|a| r.created <= a) {
            return false;
        }
        if let Some(meta) = &self.meta {
            // "Metadata key matching rule is `AND`"
            let have = r.pin.meta.as_ref();
            if !meta
                .iter()
                .all(|(k, v)| have.and_then(|m| m.get(k)) == Some(v))
            {
                return false;
            }
        }
        true
    }
}

/// `paths./pins.get` (getPins): 200 with `PinResults`: the pin objects matching every
/// filter, newest `created` first, at most `limit`; `count` is "The total number of pin
/// objects that exist for passed query filters" (all of them, not only this page).
async fn list(AxState(sh): Sh, uri: Uri) -> Response {
    let f = match filters(uri.query()) {
        Ok(f) => f,
        Err(d) => return bad_request(&d),
    };
    let now = Instant::now();
    let s = sh.lock();
    let matching: Vec<&Record> = s.pins.iter().rev().filter(|r| f.matches(r, now)).collect();
    let results: Vec<Value> = matching
        .iter()
        .take(f.limit)
        .map(|r| pin_status(r, now))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "count": matching.len(), "results": results }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys() {
        assert_eq!(route_key(&Method::GET, "/pins"), "GET /pins");
        assert_eq!(
            route_key(&Method::DELETE, "/pins/abc"),
            "DELETE /pins/{requestid}"
        );
        assert_eq!(route_key(&Method::GET, "/pins/"), "GET /pins/");
        assert_eq!(route_key(&Method::GET, "/pins/a/b"), "GET /pins/a/b");
    }

    #[test]
    fn reasons() {
        assert_eq!(
            reason_for(StatusCode::TOO_MANY_REQUESTS),
            "TOO_MANY_REQUESTS"
        );
        assert_eq!(
            reason_for(StatusCode::SERVICE_UNAVAILABLE),
            "INTERNAL_SERVER_ERROR"
        );
        assert_eq!(reason_for(StatusCode::CONFLICT), "INSUFFICIENT_FUNDS");
    }

    #[test]
    fn delegate_is_a_p2p_multiaddr() {
        // Provider hints: "All multiaddrs MUST end with /p2p/{peerID}".
        check_p2p_multiaddr(DELEGATE).unwrap();
    }
}
