//! The double against `ipfs-pinning-service.yaml` v1.0.0 (github.com/ipfs/
//! pinning-services-api-spec, archived at v1.0.0): each test cites the part of the spec
//! it checks. Everything runs on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pinning_double::{Fault, Options, PinningDouble, Status, DELEGATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "secret-token";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn double() -> PinningDouble {
    PinningDouble::start(Options::new(TOKEN)).await.unwrap()
}

/// A valid CIDv1 (raw codec, identity multihash of `n`'s text), distinct per `n`.
fn cid(n: usize) -> String {
    let mh = cid::multihash::Multihash::<64>::wrap(0x00, format!("pin {n}").as_bytes()).unwrap();
    cid::Cid::new_v1(0x55, mh).to_string()
}

/// A CIDv0 (sha2-256 of "hello world\n" as a UnixFS file, as `ipfs add` prints it).
const CID_V0: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

/// `(status, JSON body or Null, headers)`.
async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let r = rb.send().await.unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (s, v, h)
}

async fn add(d: &PinningDouble, pin: Value) -> (StatusCode, Value) {
    let (s, v, _) = send(
        http()
            .post(format!("{}/pins", d.endpoint()))
            .bearer_auth(TOKEN)
            .json(&pin),
    )
    .await;
    (s, v)
}

async fn add_ok(d: &PinningDouble, pin: Value) -> Value {
    let (s, v) = add(d, pin).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v
}

async fn list(d: &PinningDouble, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let (s, v, _) = send(
        http()
            .get(format!("{}/pins", d.endpoint()))
            .bearer_auth(TOKEN)
            .query(query),
    )
    .await;
    (s, v)
}

async fn list_ok(d: &PinningDouble, query: &[(&str, &str)]) -> Value {
    let (s, v) = list(d, query).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn ids(results: &Value) -> Vec<String> {
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requestid"].as_str().unwrap().to_string())
        .collect()
}

/// components/schemas/Failure: `error` required, `error.reason` required (a string),
/// `details` optional string.
fn assert_failure(v: &Value, reason: &str) {
    assert_eq!(v["error"]["reason"], reason, "{v}");
    assert!(v["error"]["details"].is_string(), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
}

/// components/schemas/PinStatus: required requestid, status, created, pin, delegates.
fn assert_pin_status(v: &Value) {
    let o = v.as_object().unwrap();
    for k in ["requestid", "status", "created", "pin", "delegates"] {
        assert!(o.contains_key(k), "PinStatus without {k}: {v}");
    }
    assert!(!v["requestid"].as_str().unwrap().is_empty());
    assert!(
        Status::parse(v["status"].as_str().unwrap()).is_some(),
        "{v}"
    );
    // created: format date-time (RFC 3339 section 5.6), e.g. "2020-07-27T17:32:28.276Z".
    let created = v["created"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(created).unwrap();
    assert!(created.contains('.'), "sub-second precision: {created}");
    // components/schemas/Delegates: minItems 1, maxItems 20, uniqueItems; Provider hints:
    // "All multiaddrs MUST end with /p2p/{peerID}".
    let delegates = v["delegates"].as_array().unwrap();
    assert!((1..=20).contains(&delegates.len()));
    for dl in delegates {
        let ma: multiaddr::Multiaddr = dl.as_str().unwrap().parse().unwrap();
        assert!(
            matches!(ma.iter().last(), Some(multiaddr::Protocol::P2p(_))),
            "{dl}"
        );
    }
    assert!(v["pin"]["cid"].is_string());
}

// ---------------------------------------------------------------------------------------
// Routes

#[tokio::test]
async fn add_get_list_delete_round_trip() {
    let d = double().await;
    let c = http();
    let pin = json!({
        "cid": CID_V0,
        "name": "PreciousData.pdf",
        "origins": ["/ip4/203.0.113.142/tcp/4001/p2p/12D3KooWBmBTQ73cFafBBHQYVGb5r7zixKALZR1n3MUcmryc69MD"],
        "meta": {"app_id": "99986338-1113-4706-8302-4420da6158aa"}
    });
    // paths./pins.post: '202': Successful response (PinStatus object).
    let st = add_ok(&d, pin.clone()).await;
    assert_pin_status(&st);
    // PinStatus.pin: "includes values from the original Pin object".
    assert_eq!(st["pin"], pin);
    assert_eq!(st["delegates"], json!([DELEGATE]));
    // No delay configured: pinned at once.
    assert_eq!(st["status"], "pinned");
    assert!(st.get("info").is_none(), "info is optional: {st}");
    let id = st["requestid"].as_str().unwrap().to_string();

    // paths./pins/{requestid}.get: '200' (PinStatus object).
    let (s, got, h) = send(
        c.get(format!("{}/pins/{id}", d.endpoint()))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(got, st);

    // paths./pins.get: '200' (PinResults object): count and results required.
    let all = list_ok(&d, &[]).await;
    assert_eq!(all["count"], 1);
    assert_eq!(all["results"], json!([st]));

    // paths./pins/{requestid}.delete: '202': Successful response (no body, pin removed).
    let (s, body, _) = send(
        c.delete(format!("{}/pins/{id}", d.endpoint()))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(body, Value::Null, "no body");
    // '404': components/responses/NotFound, NotFoundExample reason NOT_FOUND.
    for req in [
        c.get(format!("{}/pins/{id}", d.endpoint())),
        c.delete(format!("{}/pins/{id}", d.endpoint())),
        c.post(format!("{}/pins/{id}", d.endpoint()))
            .json(&json!({"cid": CID_V0})),
    ] {
        let (s, v, _) = send(req.bearer_auth(TOKEN)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_failure(&v, "NOT_FOUND");
    }
    assert!(d.pins().is_empty());
    assert_eq!(list_ok(&d, &[]).await, json!({"count": 0, "results": []}));
}

#[tokio::test]
async fn same_cid_pinned_twice_gets_two_requestids() {
    // "When the same cid is pinned again, a different requestid is returned to
    // differentiate between those pin requests."
    let d = double().await;
    let a = add_ok(&d, json!({"cid": CID_V0})).await;
    let b = add_ok(&d, json!({"cid": CID_V0})).await;
    assert_ne!(a["requestid"], b["requestid"]);
    assert_eq!(d.pins().len(), 2);
    assert_eq!(list_ok(&d, &[("cid", CID_V0)]).await["count"], 2);
}

#[tokio::test]
async fn replace_deletes_the_old_object_and_returns_a_new_requestid() {
    // "Replacing an existing pin object": "The new pin object requestid is returned in
    // the PinStatus response. The old pin object is deleted automatically."
    // paths./pins/{requestid}.post: '202' (PinStatus object).
    let d = double().await;
    let c = http();
    let old = add_ok(&d, json!({"cid": cid(1), "name": "v1"})).await;
    let old_id = old["requestid"].as_str().unwrap().to_string();
    let (s, new, _) = send(
        c.post(format!("{}/pins/{old_id}", d.endpoint()))
            .bearer_auth(TOKEN)
            .json(&json!({"cid": cid(2), "name": "v2"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{new}");
    assert_pin_status(&new);
    let new_id = new["requestid"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(new["pin"], json!({"cid": cid(2), "name": "v2"}));
    assert!(new["created"].as_str() > old["created"].as_str());
    let (s, v, _) = send(
        c.get(format!("{}/pins/{old_id}", d.endpoint()))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_failure(&v, "NOT_FOUND");
    let live = d.pins();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].requestid, new_id);
    assert_eq!(live[0].cid, cid(2));

    // A replacement that is not a valid Pin is a 400 and leaves the pin object alone.
    let (s, v, _) = send(
        c.post(format!("{}/pins/{new_id}", d.endpoint()))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "no cid"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_failure(&v, "BAD_REQUEST");
    assert_eq!(d.pins()[0].requestid, new_id);
}

#[tokio::test]
async fn paths_outside_the_api_answer_failure_bodies() {
    // Every error response of the spec is a components/schemas/Failure.
    let d = double().await;
    let c = http();
    let (s, v, _) = send(c.get(format!("{}/nope", d.endpoint())).bearer_auth(TOKEN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_failure(&v, "NOT_FOUND");
    let (s, v, _) = send(c.put(format!("{}/pins", d.endpoint())).bearer_auth(TOKEN)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(v["error"]["reason"].is_string());
}

// ---------------------------------------------------------------------------------------
// Authentication

#[tokio::test]
async fn missing_or_wrong_token_is_401_on_every_route() {
    // components/securitySchemes/accessToken: "An opaque token is required to be sent
    // with each request in the HTTP header: Authorization: Bearer <access-token>";
    // components/responses/Unauthorized: "access token is missing or invalid",
    // UnauthorizedExample reason UNAUTHORIZED.
    let d = double().await;
    let c = http();
    let id = add_ok(&d, json!({"cid": CID_V0})).await["requestid"]
        .as_str()
        .unwrap()
        .to_string();
    let e = d.endpoint();
    let requests = || {
        vec![
            c.get(format!("{e}/pins")),
            c.post(format!("{e}/pins")).json(&json!({"cid": CID_V0})),
            c.get(format!("{e}/pins/{id}")),
            c.post(format!("{e}/pins/{id}"))
                .json(&json!({"cid": CID_V0})),
            c.delete(format!("{e}/pins/{id}")),
        ]
    };
    for rb in requests() {
        let (s, v, _) = send(rb).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_failure(&v, "UNAUTHORIZED");
    }
    for rb in requests() {
        let (s, v, _) = send(rb.bearer_auth("wrong")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_failure(&v, "UNAUTHORIZED");
    }
    for rb in requests() {
        let (s, v, _) = send(rb.header("Authorization", TOKEN)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "no scheme");
        assert_failure(&v, "UNAUTHORIZED");
    }
    for rb in requests() {
        let (s, v, _) = send(rb.basic_auth("user", Some(TOKEN))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "Basic is not bearer");
        assert_failure(&v, "UNAUTHORIZED");
    }
    // Nothing was changed by the refused requests.
    assert_eq!(d.pins().len(), 1);
    assert_eq!(d.pins()[0].requestid, id);
    // The auth scheme name is case-insensitive (RFC 7235 section 2.1).
    let (s, _, _) = send(
        c.get(format!("{e}/pins"))
            .header("Authorization", format!("bearer {TOKEN}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Pin validation

#[tokio::test]
async fn invalid_pins_are_400_naming_the_field() {
    // components/schemas/Pin: required [cid]; name maxLength 255; origins
    // (components/schemas/Origins) uniqueItems, maxItems 20; meta
    // (components/schemas/PinMeta) additionalProperties type string, maxProperties 1000;
    // Provider hints: "All multiaddrs MUST end with /p2p/{peerID}".
    let d = double().await;
    let origin = |n: usize| {
        format!(
            "/ip4/203.0.113.{n}/tcp/4001/p2p/12D3KooWBmBTQ73cFafBBHQYVGb5r7zixKALZR1n3MUcmryc69MD"
        )
    };
    let meta = |n: usize| -> Value {
        Value::Object(
            (0..n)
                .map(|i| (format!("k{i}"), Value::String(i.to_string())))
                .collect(),
        )
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "cid"),
        (json!({"name": "x"}), "cid"),
        (json!({"cid": 5}), "cid"),
        (json!({"cid": null}), "cid"),
        (json!({"cid": ""}), "cid"),
        // The spec's own example value is a placeholder, not a CID.
        (json!({"cid": "QmCIDToBePinned"}), "cid"),
        (json!({"cid": CID_V0, "name": "n".repeat(256)}), "name"),
        (json!({"cid": CID_V0, "name": "é".repeat(256)}), "name"),
        (json!({"cid": CID_V0, "name": 7}), "name"),
        (json!({"cid": CID_V0, "name": null}), "name"),
        (
            json!({"cid": CID_V0, "origins": (0..21).map(origin).collect::<Vec<_>>()}),
            "origins",
        ),
        (
            json!({"cid": CID_V0, "origins": [origin(1), origin(1)]}),
            "origins",
        ),
        (
            json!({"cid": CID_V0, "origins": ["/ip4/203.0.113.1/tcp/4001"]}),
            "origins",
        ),
        (
            json!({"cid": CID_V0, "origins": ["not a multiaddr"]}),
            "origins",
        ),
        (json!({"cid": CID_V0, "origins": [1]}), "origins"),
        (json!({"cid": CID_V0, "origins": origin(1)}), "origins"),
        (json!({"cid": CID_V0, "meta": {"a": 1}}), "meta"),
        (json!({"cid": CID_V0, "meta": ["a"]}), "meta"),
        (json!({"cid": CID_V0, "meta": meta(1001)}), "meta"),
        (json!([CID_V0]), "Pin"),
    ];
    for (body, field) in cases {
        let (s, v) = add(&d, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_failure(&v, "BAD_REQUEST");
        assert!(
            v["error"]["details"].as_str().unwrap().contains(field),
            "{body}: details should name {field}: {v}"
        );
    }
    // Bad JSON, and a body not sent as application/json (requestBody content:
    // application/json).
    let c = http();
    for rb in [
        c.post(format!("{}/pins", d.endpoint()))
            .header("Content-Type", "application/json")
            .body("{\"cid\":"),
        c.post(format!("{}/pins", d.endpoint()))
            .header("Content-Type", "text/plain")
            .body(json!({"cid": CID_V0}).to_string()),
        c.post(format!("{}/pins", d.endpoint())),
    ] {
        let (s, v, _) = send(rb.bearer_auth(TOKEN)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_failure(&v, "BAD_REQUEST");
    }
    assert!(d.pins().is_empty(), "no invalid pin was created");

    // The limits themselves are allowed: 255 characters (not bytes), 20 origins, 0
    // origins, 1000 meta keys, and both CID versions.
    for body in [
        json!({"cid": CID_V0, "name": "é".repeat(255)}),
        json!({"cid": cid(1), "origins": (0..20).map(origin).collect::<Vec<_>>()}),
        json!({"cid": cid(2), "origins": []}),
        json!({"cid": cid(3), "meta": meta(1000)}),
        json!({"cid": cid(4), "vendor_field": "ignored"}),
    ] {
        let st = add_ok(&d, body.clone()).await;
        assert_eq!(st["pin"]["cid"], body["cid"]);
    }
    assert_eq!(d.pins().len(), 5);
    assert!(add_ok(&d, json!({"cid": cid(4), "x": 1})).await["pin"]
        .get("x")
        .is_none());
}

// ---------------------------------------------------------------------------------------
// PinStatus.created

#[tokio::test]
async fn created_is_unique_and_strictly_increasing() {
    // "Pagination and filtering": "pagination by the created timestamp requires each
    // value to be globally unique"; PinStatus.created: format date-time.
    let d = double().await;
    let mut last: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    for n in 0..40 {
        let st = add_ok(&d, json!({"cid": cid(n)})).await;
        let t = chrono::DateTime::parse_from_rfc3339(st["created"].as_str().unwrap()).unwrap();
        if let Some(l) = last {
            assert!(t > l, "{t} after {l}");
        }
        last = Some(t);
    }
    let created: BTreeSet<String> = d.pins().into_iter().map(|p| p.created).collect();
    assert_eq!(created.len(), 40);
}

// ---------------------------------------------------------------------------------------
// GET /pins filters

#[tokio::test]
async fn bare_list_shows_only_pinned() {
    // paths./pins.get: "when no filter is provided, only successful pins are returned";
    // components/parameters/status: "when missing, service should default to pinned
    // only".
    let d = double().await;
    let pinned = add_ok(&d, json!({"cid": cid(1)})).await;
    d.set_timing(Duration::from_secs(3600), Duration::from_secs(3600));
    let queued = add_ok(&d, json!({"cid": cid(2)})).await;
    assert_eq!(queued["status"], "queued");
    d.fail_cid(&cid(3), "DAG too big");
    d.set_timing(Duration::ZERO, Duration::ZERO);
    let failed = add_ok(&d, json!({"cid": cid(3)})).await;
    assert_eq!(failed["status"], "failed");

    let bare = list_ok(&d, &[]).await;
    assert_eq!(bare["count"], 1);
    assert_eq!(ids(&bare), vec![pinned["requestid"].as_str().unwrap()]);
    // The default holds when other filters are given without status.
    let by_cid = list_ok(&d, &[("cid", &cid(2))]).await;
    assert_eq!(
        by_cid["count"], 0,
        "a queued pin is not listed without status"
    );

    // style: form, explode: false: ?status=queued,pinning
    let q = list_ok(&d, &[("status", "queued")]).await;
    assert_eq!(ids(&q), vec![queued["requestid"].as_str().unwrap()]);
    let f = list_ok(&d, &[("status", "failed")]).await;
    assert_eq!(ids(&f), vec![failed["requestid"].as_str().unwrap()]);
    let all = list_ok(&d, &[("status", "queued,pinning,pinned,failed")]).await;
    assert_eq!(all["count"], 3);
    assert_eq!(d.pins().len(), 3);
}

#[tokio::test]
async fn invalid_status_filter_is_400() {
    // components/parameters/status: items components/schemas/Status (enum queued,
    // pinning, pinned, failed), uniqueItems: true, minItems: 1.
    let d = double().await;
    for bad in [
        "done",
        "Pinned",
        "",
        "pinned,",
        "pinned,pinned",
        "pinned,bogus",
    ] {
        let (s, v) = list(&d, &[("status", bad)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "status={bad:?}");
        assert_failure(&v, "BAD_REQUEST");
        assert!(v["error"]["details"].as_str().unwrap().contains("status"));
    }
}

#[tokio::test]
async fn limit_bounds_and_default() {
    // components/parameters/limit: integer, minimum 1, maximum 1000, default 10;
    // "Pagination and filtering": "the endpoint will return a small batch of the 10 most
    // recently created items, from the latest to the oldest".
    let d = double().await;
    for n in 0..12 {
        add_ok(&d, json!({"cid": cid(n)})).await;
    }
    for bad in ["0", "1001", "-1", "ten", "1.5", ""] {
        let (s, v) = list(&d, &[("limit", bad)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "limit={bad:?}");
        assert_failure(&v, "BAD_REQUEST");
        assert!(v["error"]["details"].as_str().unwrap().contains("limit"));
    }
    let dflt = list_ok(&d, &[]).await;
    assert_eq!(dflt["results"].as_array().unwrap().len(), 10);
    assert_eq!(dflt["count"], 12);
    // Newest first: the last one created leads.
    assert_eq!(dflt["results"][0]["pin"]["cid"], cid(11));
    assert_eq!(dflt["results"][9]["pin"]["cid"], cid(2));
    let one = list_ok(&d, &[("limit", "1")]).await;
    assert_eq!(one["results"].as_array().unwrap().len(), 1);
    assert_eq!(one["count"], 12);
    let max = list_ok(&d, &[("limit", "1000")]).await;
    assert_eq!(max["results"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn before_pages_through_25_pins_in_3_pages() {
    // "Pagination and filtering": "If the value in PinResults.count is bigger than the
    // length of PinResults.results, the client can infer there are more results that can
    // be queried. To read more items, pass the before filter with the timestamp from
    // PinStatus.created found in the oldest item in the current batch of results. Repeat
    // to read all results." PinResults.count: "The total number of pin objects that
    // exist for passed query filters" (before is one of them).
    let d = double().await;
    let mut made = Vec::new();
    for n in 0..25 {
        made.push(add_ok(&d, json!({"cid": cid(n)})).await["requestid"].clone());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut q = vec![("limit", "10".to_string())];
        if let Some(b) = &before {
            q.push(("before", b.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = list_ok(&d, &q).await;
        let results = page["results"].as_array().unwrap();
        pages.push((page["count"].as_u64().unwrap(), results.len()));
        seen.extend(ids(&page));
        let count = page["count"].as_u64().unwrap() as usize;
        if count <= results.len() {
            break;
        }
        before = Some(
            results.last().unwrap()["created"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, vec![(25, 10), (15, 10), (5, 5)]);
    let mut expected: Vec<String> = made
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    expected.reverse();
    assert_eq!(seen, expected, "every pin once, newest first");
}

#[tokio::test]
async fn before_and_after_are_strict_and_rfc3339() {
    // components/parameters/before: "Return results created (queued) before provided
    // timestamp"; after: "... after provided timestamp"; format date-time (RFC 3339
    // section 5.6).
    let d = double().await;
    let a = add_ok(&d, json!({"cid": cid(1)})).await;
    let b = add_ok(&d, json!({"cid": cid(2)})).await;
    let c = add_ok(&d, json!({"cid": cid(3)})).await;
    let t = |v: &Value| v["created"].as_str().unwrap().to_string();
    let rid = |v: &Value| v["requestid"].as_str().unwrap().to_string();
    assert_eq!(
        ids(&list_ok(&d, &[("before", &t(&b))]).await),
        vec![rid(&a)]
    );
    assert_eq!(ids(&list_ok(&d, &[("after", &t(&b))]).await), vec![rid(&c)]);
    let between = list_ok(&d, &[("after", &t(&a)), ("before", &t(&c))]).await;
    assert_eq!(ids(&between), vec![rid(&b)]);
    assert_eq!(between["count"], 1);
    // The same instant in another offset (percent-encoded '+', as a URL needs).
    let created = chrono::DateTime::parse_from_rfc3339(&t(&b)).unwrap();
    let shifted = created
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, false);
    assert!(shifted.contains("+02:00"));
    assert_eq!(
        ids(&list_ok(&d, &[("before", &shifted)]).await),
        vec![rid(&a)]
    );
    for bad in [
        "yesterday",
        "2020-07-27",
        "2020-07-27T17:32:28",
        "1595871148",
    ] {
        for p in ["before", "after"] {
            let (s, v) = list(&d, &[(p, bad)]).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{p}={bad}");
            assert_failure(&v, "BAD_REQUEST");
            assert!(v["error"]["details"].as_str().unwrap().contains(p));
        }
    }
}

#[tokio::test]
async fn cid_filter_takes_up_to_10_comma_separated() {
    // components/parameters/cid: array, style form, explode false (?cid=Qm1,Qm2,bafy3),
    // uniqueItems, minItems 1, maxItems 10.
    let d = double().await;
    for n in 0..12 {
        add_ok(&d, json!({"cid": cid(n)})).await;
    }
    let two = format!("{},{}", cid(3), cid(5));
    let r = list_ok(&d, &[("cid", &two)]).await;
    assert_eq!(r["count"], 2);
    let got: BTreeSet<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pin"]["cid"].as_str().unwrap())
        .collect();
    assert_eq!(got, BTreeSet::from([cid(3).as_str(), cid(5).as_str()]));
    let ten: Vec<String> = (0..10).map(cid).collect();
    assert_eq!(list_ok(&d, &[("cid", &ten.join(","))]).await["count"], 10);
    let eleven: Vec<String> = (0..11).map(cid).collect();
    let dup = format!("{},{}", cid(1), cid(1));
    for bad in [eleven.join(","), dup, String::new(), format!("{},", cid(1))] {
        let (s, v) = list(&d, &[("cid", &bad)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "cid={bad}");
        assert_failure(&v, "BAD_REQUEST");
        assert!(v["error"]["details"].as_str().unwrap().contains("cid"));
    }
    // Not style form: repeating the parameter is refused.
    let (s, _, _) = send(
        http()
            .get(format!(
                "{}/pins?cid={}&cid={}",
                d.endpoint(),
                cid(1),
                cid(2)
            ))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn name_match_modes() {
    // components/parameters/name: "by default a case-sensitive, exact match", maxLength
    // 255; components/parameters/match + schemas/TextMatchingStrategy: exact (default),
    // iexact, partial, ipartial.
    let d = double().await;
    let names = ["PreciousData.pdf", "precious", "Other.PDF", "unrelated"];
    for (n, name) in names.iter().enumerate() {
        add_ok(&d, json!({"cid": cid(n), "name": name})).await;
    }
    add_ok(&d, json!({"cid": cid(9)})).await; // no name
    let found = |v: Value| -> BTreeSet<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pin"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        found(list_ok(&d, &[("name", "precious")]).await),
        set(&["precious"])
    );
    assert_eq!(
        found(list_ok(&d, &[("name", "precious"), ("match", "exact")]).await),
        set(&["precious"])
    );
    assert_eq!(
        found(list_ok(&d, &[("name", "PRECIOUS"), ("match", "iexact")]).await),
        set(&["precious"])
    );
    assert_eq!(
        found(list_ok(&d, &[("name", "ecious"), ("match", "partial")]).await),
        set(&["PreciousData.pdf", "precious"])
    );
    assert_eq!(
        found(list_ok(&d, &[("name", "pdf"), ("match", "partial")]).await),
        set(&["PreciousData.pdf"])
    );
    assert_eq!(
        found(list_ok(&d, &[("name", "pdf"), ("match", "ipartial")]).await),
        set(&["PreciousData.pdf", "Other.PDF"])
    );
    assert_eq!(list_ok(&d, &[("name", "PRECIOUS")]).await["count"], 0);
    let (s, v) = list(&d, &[("name", "x"), ("match", "fuzzy")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["details"].as_str().unwrap().contains("match"));
    let long = "n".repeat(256);
    let (s, v) = list(&d, &[("name", &long)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["details"].as_str().unwrap().contains("name"));
}

#[tokio::test]
async fn meta_filter_is_an_and_match_of_url_escaped_json() {
    // "Filtering based on metadata": "Metadata key matching rule is AND: lookup returns
    // pins that have meta with all key-value pairs matching the passed values; pin
    // metadata may have more keys, but only ones passed in the query are used for
    // filtering." Wire format: GET /pins?meta=%7B%22app_id%22%3A%22UUID%22%7D
    let d = double().await;
    let a = add_ok(
        &d,
        json!({"cid": cid(1), "meta": {"app_id": "UUID", "env": "prod"}}),
    )
    .await;
    let b = add_ok(&d, json!({"cid": cid(2), "meta": {"app_id": "UUID"}})).await;
    add_ok(&d, json!({"cid": cid(3), "meta": {"app_id": "other"}})).await;
    add_ok(&d, json!({"cid": cid(4)})).await;
    let rid = |v: &Value| v["requestid"].as_str().unwrap().to_string();

    // The spec's literal example URL.
    let (s, v, _) = send(
        http()
            .get(format!(
                "{}/pins?meta=%7B%22app_id%22%3A%22UUID%22%7D",
                d.endpoint()
            ))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&v), vec![rid(&b), rid(&a)]);
    assert_eq!(v["count"], 2);
    let both = list_ok(&d, &[("meta", r#"{"app_id":"UUID","env":"prod"}"#)]).await;
    assert_eq!(ids(&both), vec![rid(&a)]);
    assert_eq!(list_ok(&d, &[("meta", "{}")]).await["count"], 4);
    assert_eq!(
        list_ok(&d, &[("meta", r#"{"env":"dev"}"#)]).await["count"],
        0
    );
    for bad in ["not json", r#"{"app_id":1}"#, r#"["app_id"]"#, "\"UUID\""] {
        let (s, v) = list(&d, &[("meta", bad)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "meta={bad}");
        assert_failure(&v, "BAD_REQUEST");
        assert!(v["error"]["details"].as_str().unwrap().contains("meta"));
    }
}

#[tokio::test]
async fn count_is_the_total_for_the_filters_not_the_page() {
    // components/schemas/PinResults.count: "The total number of pin objects that exist
    // for passed query filters"; results maxItems 1000.
    let d = double().await;
    for n in 0..15 {
        let name = if n % 3 == 0 { "three" } else { "other" };
        add_ok(&d, json!({"cid": cid(n), "name": name})).await;
    }
    let r = list_ok(&d, &[("name", "three"), ("limit", "2")]).await;
    assert_eq!(r["count"], 5);
    assert_eq!(r["results"].as_array().unwrap().len(), 2);
    let r = list_ok(&d, &[("limit", "3")]).await;
    assert_eq!(r["count"], 15);
    // Unknown parameters are not filters.
    assert_eq!(list_ok(&d, &[("colour", "blue")]).await["count"], 15);
}

// ---------------------------------------------------------------------------------------
// The pin lifecycle

#[tokio::test(start_paused = true)]
async fn delayed_pinning_goes_queued_pinning_pinned() {
    // "Checking status of in-progress pinning": "When a new pin object is created it
    // typically starts in a queued state. Once the pinning service actively seeks to
    // retrieve the file it changes to pinning ... the user can periodically check
    // pinning progress via GET /pins/{requestid} until pinning is pinned or failed".
    let d = PinningDouble::start(Options {
        token: TOKEN.into(),
        queued_for: Duration::from_secs(60),
        pinning_for: Duration::from_secs(120),
    })
    .await
    .unwrap();
    let st = add_ok(&d, json!({"cid": cid(1)})).await;
    assert_eq!(st["status"], "queued");
    let id = st["requestid"].as_str().unwrap().to_string();
    let status = || async {
        let (s, v, _) = send(
            http()
                .get(format!("{}/pins/{id}", d.endpoint()))
                .bearer_auth(TOKEN),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        v["status"].as_str().unwrap().to_string()
    };
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(status().await, "queued");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(status().await, "pinning");
    assert_eq!(d.pins()[0].status, Status::Pinning);
    assert_eq!(list_ok(&d, &[("status", "pinning")]).await["count"], 1);
    assert_eq!(list_ok(&d, &[]).await["count"], 0);
    tokio::time::advance(Duration::from_secs(119)).await;
    assert_eq!(status().await, "pinning");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(status().await, "pinned");
    assert_eq!(list_ok(&d, &[]).await["count"], 1);
    // created is immutable ("Immutable timestamp indicating when a pin request entered a
    // pinning service").
    assert_eq!(d.pins()[0].created, st["created"].as_str().unwrap());
}

#[tokio::test(start_paused = true)]
async fn fail_cid_ends_failed_with_status_details() {
    // components/schemas/Status: "failed # pinning service was unable to finish pinning
    // operation; additional info can be found in info[status_details]"; StatusInfo.
    let d = PinningDouble::start(Options {
        token: TOKEN.into(),
        queued_for: Duration::from_secs(10),
        pinning_for: Duration::from_secs(10),
    })
    .await
    .unwrap();
    d.fail_cid(&cid(1), "DAG too big");
    let bad = add_ok(&d, json!({"cid": cid(1)})).await;
    let good = add_ok(&d, json!({"cid": cid(2)})).await;
    assert_eq!(bad["status"], "queued");
    assert!(bad.get("info").is_none());
    // Set while another pin object is still pending: that one fails too.
    let late = add_ok(&d, json!({"cid": cid(3)})).await;
    tokio::time::advance(Duration::from_secs(15)).await;
    d.fail_cid(&cid(3), "lack of funds");
    tokio::time::advance(Duration::from_secs(10)).await;

    let failed = list_ok(&d, &[("status", "failed")]).await;
    assert_eq!(failed["count"], 2);
    let by_id: BTreeMap<String, Value> = failed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["requestid"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    let f = &by_id[bad["requestid"].as_str().unwrap()];
    assert_pin_status(f);
    assert_eq!(f["info"], json!({"status_details": "DAG too big"}));
    let f = &by_id[late["requestid"].as_str().unwrap()];
    assert_eq!(f["info"]["status_details"], "lack of funds");
    let pinned = list_ok(&d, &[]).await;
    assert_eq!(ids(&pinned), vec![good["requestid"].as_str().unwrap()]);
    let objs = d.pins();
    assert_eq!(objs[0].status, Status::Failed);
    assert_eq!(objs[0].status_details.as_deref(), Some("DAG too big"));

    // A pinned pin object stays pinned when its CID is set to fail later; a new one
    // fails; after clear_fail_cid new ones pin again.
    d.fail_cid(&cid(2), "late");
    assert_eq!(d.pins()[1].status, Status::Pinned);
    d.set_timing(Duration::ZERO, Duration::ZERO);
    assert_eq!(add_ok(&d, json!({"cid": cid(2)})).await["status"], "failed");
    d.clear_fail_cid(&cid(2));
    assert_eq!(add_ok(&d, json!({"cid": cid(2)})).await["status"], "pinned");
}

// ---------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn status_faults_answer_failure_bodies() {
    // paths.*.responses '5XX': components/responses/InternalServerError
    // (InternalServerErrorExample reason INTERNAL_SERVER_ERROR); '4XX':
    // CustomServiceError (a Failure body); '409': InsufficientFunds.
    let d = double().await;
    let c = http();
    d.set_fault(Fault::Status {
        status: 503,
        retry_after: None,
    });
    for rb in [
        c.get(format!("{}/pins", d.endpoint())).bearer_auth(TOKEN),
        c.post(format!("{}/pins", d.endpoint()))
            .bearer_auth(TOKEN)
            .json(&json!({"cid": CID_V0})),
        // Before authentication: a service that is down does not check tokens.
        c.get(format!("{}/pins/x", d.endpoint())),
    ] {
        let (s, v, h) = send(rb).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h["content-type"], "application/json");
        assert_failure(&v, "INTERNAL_SERVER_ERROR");
        assert!(h.get("retry-after").is_none());
    }
    assert!(d.pins().is_empty(), "a faulted POST creates nothing");

    d.set_fault(Fault::Status {
        status: 429,
        retry_after: Some(7),
    });
    let (s, v, h) = send(c.get(format!("{}/pins", d.endpoint())).bearer_auth(TOKEN)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h["retry-after"], "7");
    assert_failure(&v, "TOO_MANY_REQUESTS");

    d.set_fault(Fault::Status {
        status: 409,
        retry_after: None,
    });
    let (s, v) = add(&d, json!({"cid": CID_V0})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_failure(&v, "INSUFFICIENT_FUNDS");

    d.set_fault(Fault::None);
    assert_eq!(
        add(&d, json!({"cid": CID_V0})).await.0,
        StatusCode::ACCEPTED
    );

    // A passing outage: the next 2 requests only.
    d.set_fault_for(
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        2,
    );
    assert_eq!(list(&d, &[]).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(list(&d, &[]).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(list(&d, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn delay_and_hang_faults() {
    let d = double().await;
    let timeout = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // Delay: slower than the client's timeout, then normal again.
    d.set_fault(Fault::Delay(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let err = timeout
        .get(format!("{}/pins", d.endpoint()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    d.set_fault(Fault::Delay(Duration::from_millis(50)));
    let started = std::time::Instant::now();
    assert_eq!(list(&d, &[]).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(50));

    // Hang: never answers.
    d.set_fault(Fault::Hang);
    let err = timeout
        .post(format!("{}/pins", d.endpoint()))
        .bearer_auth(TOKEN)
        .json(&json!({"cid": CID_V0}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(d.pins().is_empty());
    d.set_fault(Fault::None);
    assert_eq!(list(&d, &[]).await.0, StatusCode::OK);

    // A hanging request is let go when the double shuts down.
    d.set_fault(Fault::Hang);
    let url = format!("{}/pins", d.endpoint());
    let pending = tokio::spawn(async move { http().get(url).bearer_auth(TOKEN).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(10), d.shutdown())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap();
    if let Ok(r) = r {
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

// ---------------------------------------------------------------------------------------
// Inspection

#[tokio::test]
async fn calls_are_counted_per_route() {
    let d = double().await;
    let c = http();
    let e = d.endpoint();
    let id = add_ok(&d, json!({"cid": cid(1)})).await["requestid"]
        .as_str()
        .unwrap()
        .to_string();
    list_ok(&d, &[]).await;
    list_ok(&d, &[("limit", "5")]).await;
    send(c.get(format!("{e}/pins/{id}")).bearer_auth(TOKEN)).await;
    let (_, new, _) = send(
        c.post(format!("{e}/pins/{id}"))
            .bearer_auth(TOKEN)
            .json(&json!({"cid": cid(2)})),
    )
    .await;
    let new_id = new["requestid"].as_str().unwrap();
    send(c.delete(format!("{e}/pins/{new_id}")).bearer_auth(TOKEN)).await;
    // Refused and faulted requests count too.
    send(c.get(format!("{e}/pins"))).await;
    d.set_fault(Fault::Status {
        status: 500,
        retry_after: None,
    });
    send(c.delete(format!("{e}/pins/{new_id}")).bearer_auth(TOKEN)).await;
    d.set_fault(Fault::None);

    let expected: BTreeMap<String, usize> = [
        ("GET /pins", 3),
        ("POST /pins", 1),
        ("GET /pins/{requestid}", 1),
        ("POST /pins/{requestid}", 1),
        ("DELETE /pins/{requestid}", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(d.calls(), expected);
    assert_eq!(d.calls_to("DELETE /pins/{requestid}"), 2);
    assert_eq!(d.calls_to("PUT /pins"), 0);
    let auth = d.seen_authorization();
    assert_eq!(auth.len(), 7, "one request went without a token");
    assert!(auth.iter().all(|a| a == &format!("Bearer {TOKEN}")));
    d.clear_calls();
    assert!(d.calls().is_empty());
    assert!(d.seen_authorization().is_empty());
}

#[tokio::test]
async fn pins_shows_every_live_object() {
    let d = double().await;
    d.set_timing(Duration::from_secs(3600), Duration::ZERO);
    let st = add_ok(
        &d,
        json!({"cid": cid(1), "name": "n", "meta": {"k": "v"},
               "origins": ["/ip4/203.0.113.9/udp/4001/quic-v1/p2p/12D3KooWBmBTQ73cFafBBHQYVGb5r7zixKALZR1n3MUcmryc69MD"]}),
    )
    .await;
    d.set_timing(Duration::ZERO, Duration::ZERO);
    add_ok(&d, json!({"cid": cid(2)})).await;
    let p = d.pins();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].requestid, st["requestid"].as_str().unwrap());
    assert_eq!(p[0].status, Status::Queued);
    assert_eq!(p[0].created, st["created"].as_str().unwrap());
    assert_eq!(p[0].cid, cid(1));
    assert_eq!(p[0].name.as_deref(), Some("n"));
    assert_eq!(
        p[0].meta,
        BTreeMap::from([("k".to_string(), "v".to_string())])
    );
    assert_eq!(p[0].origins.len(), 1);
    assert_eq!(p[1].status, Status::Pinned);
    assert!(p[1].name.is_none() && p[1].origins.is_empty() && p[1].meta.is_empty());
}

#[tokio::test]
async fn start_refuses_non_loopback_and_empty_token_and_drop_stops() {
    let err = PinningDouble::start_on("0.0.0.0:0".parse().unwrap(), Options::new(TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = PinningDouble::start(Options::new("")).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let d = double().await;
    assert!(d.endpoint().starts_with("http://127.0.0.1:"));
    assert!(!d.endpoint().ends_with("/pins"));
    let addr = d.addr();
    d.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let d = double().await;
    let addr = d.addr();
    drop(d);
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "dropping the handle stops the server");
}
