//! Tests of [`super`]: adding and removing pinning services from the console.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

/// A new station in a temporary folder, and a console on it.
fn console() -> (tempfile::TempDir, Console) {
    let d = tempfile::tempdir().unwrap();
    crate::station::init(d.path()).unwrap();
    let dir = d.path().canonicalize().unwrap();
    let c = Console::new(&dir, tokio::runtime::Handle::current(), Arc::new(|_| {}));
    (d, c)
}

fn token_file(path: &Path, token: &str, mode: u32) {
    std::fs::write(path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn on_disk(c: &Console) -> Value {
    let text = std::fs::read_to_string(c.dir().join(SETUP_FILE)).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[KEY].clone()
}

#[tokio::test]
async fn add_checks_the_entry_and_the_token_file_then_writes_the_config() {
    let (_d, c) = console();
    let before = std::fs::read_to_string(c.dir().join(SETUP_FILE)).unwrap();
    token_file(&c.dir().join("open.token"), "s3cr3t-open", 0o644);
    token_file(&c.dir().join("cluster.token"), "s3cr3t-cluster", 0o600);

    // A token others can read is refused with its message, never the token.
    let e = c
        .pinning_add("cluster", "https://pins.example.org/", "open.token")
        .unwrap_err()
        .to_string();
    assert!(e.contains("chmod 600") && e.contains("0644"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");
    // A bad endpoint or name names the field.
    let e = c
        .pinning_add("cluster", "http://10.0.0.5:9097", "cluster.token")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("remote_pinning[0] (\"cluster\").endpoint"),
        "{e}"
    );
    let e = c
        .pinning_add("no spaces", "https://pins.example.org", "cluster.token")
        .unwrap_err()
        .to_string();
    assert!(e.contains(".name"), "{e}");
    let e = c
        .pinning_add("cluster", "https://pins.example.org", "missing.token")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("access_token_file") && e.contains("cannot be read"),
        "{e}"
    );
    // A token file outside the station, not picked: refused before it is read.
    let outside = tempfile::tempdir().unwrap();
    let far = outside.path().join("far.token");
    token_file(&far, "s3cr3t-far", 0o600);
    let e = c
        .pinning_add("far", "https://far.example.org", far.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("outside the station folder") && e.contains("Choose"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(c.dir().join(SETUP_FILE)).unwrap(),
        before,
        "nothing is written while the entry is refused"
    );

    // Valid: written (endpoint normalized, token file as given), the station reads it.
    let fields = c
        .pinning_add("cluster", "https://pins.example.org//v1/", "cluster.token")
        .unwrap();
    let f = fields.iter().find(|f| f.spec.key == KEY).unwrap();
    assert!(!f.value.contains("s3cr3t"), "{}", f.value);
    assert_eq!(
        on_disk(&c),
        json!([{"name": "cluster", "endpoint": "https://pins.example.org/v1", "access_token_file": "cluster.token"}])
    );
    let st = c.station().unwrap();
    assert_eq!(st.setup.remote_pinning.len(), 1);
    assert_eq!(
        st.setup.remote_pinning[0].access_token_file,
        c.dir().join("cluster.token")
    );
    // The other keys are kept.
    let disk: Value =
        serde_json::from_str(&std::fs::read_to_string(c.dir().join(SETUP_FILE)).unwrap()).unwrap();
    let old: Value = serde_json::from_str(&before).unwrap();
    for (k, v) in old.as_object().unwrap() {
        if k != KEY {
            assert_eq!(&disk[k], v, "{k}");
        }
    }
    // A name used twice is refused.
    let e = c
        .pinning_add("cluster", "https://other.example.org", "cluster.token")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("remote_pinning[1] (\"cluster\").name") && e.contains("twice"),
        "{e}"
    );

    // Picked in the native dialog: a token file outside the station is allowed.
    c.allow_token_file(&far);
    c.pinning_add("far", "https://far.example.org", far.to_str().unwrap())
        .unwrap();
    assert_eq!(on_disk(&c).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_generic_form_cannot_point_a_token_file_outside_the_station() {
    let (_d, c) = console();
    let outside = tempfile::tempdir().unwrap();
    let far = outside.path().join("far.token");
    token_file(&far, "t", 0o600);
    let list =
        json!([{"name": "far", "endpoint": "https://far.example.org", "access_token_file": far}]);
    let mut edits = Edits::new();
    edits
        .entry(SETUP_FILE.to_string())
        .or_default()
        .insert(KEY.to_string(), list.to_string());
    let out = c.settings_apply(&edits).unwrap();
    assert!(!out.applied);
    assert_eq!(out.errors[0].key, KEY);
    assert!(
        out.errors[0].message.contains("outside the station folder"),
        "{:?}",
        out.errors
    );
    let list = json!([{"name": "up", "endpoint": "https://up.example.org", "access_token_file": "../x.token"}]);
    edits
        .entry(SETUP_FILE.to_string())
        .or_default()
        .insert(KEY.to_string(), list.to_string());
    let out = c.settings_apply(&edits).unwrap();
    assert!(out.errors[0].message.contains("`..`"), "{:?}", out.errors);
}

#[tokio::test]
async fn remove_without_deleting_needs_no_network_and_says_the_pins_stay() {
    let (_d, c) = console();
    token_file(&c.dir().join("a.token"), "tok-sekrit-a", 0o600);
    token_file(&c.dir().join("b.token"), "tb", 0o600);
    // Nothing answers there: removing without deleting never calls it.
    c.pinning_add("a", "http://127.0.0.1:9", "a.token").unwrap();
    c.pinning_add("b", "https://b.example.org", "b.token")
        .unwrap();
    let state = c.station().unwrap().state();
    let pins_file = state.file(crate::pinning::REMOTE_PINS_FILE);
    std::fs::write(
        &pins_file,
        r#"{"format": 1, "services": {"a": {"endpoint": "http://127.0.0.1:9"}, "b": {"endpoint": "https://b.example.org"}}}"#,
    )
    .unwrap();

    let r = c.pinning_remove("a", false).await.unwrap();
    assert_eq!(
        (r.deleted, r.error.as_deref(), r.requests_left),
        (0, None, true)
    );
    assert!(
        r.summary.iter().any(|s| s.contains("left there")),
        "{:?}",
        r.summary
    );
    assert_eq!(
        on_disk(&c),
        json!([{"name": "b", "endpoint": "https://b.example.org", "access_token_file": "b.token"}])
    );
    assert_eq!(c.station().unwrap().setup.remote_pinning[0].name, "b");
    let pins = std::fs::read_to_string(&pins_file).unwrap();
    assert!(
        !pins.contains("127.0.0.1:9") && pins.contains("b.example.org"),
        "{pins}"
    );

    // A service that cannot be reached: out of the config anyway, the pins left there.
    let (_d2, c2) = console();
    token_file(&c2.dir().join("a.token"), "tok-sekrit-a", 0o600);
    c2.pinning_add("a", "http://127.0.0.1:9", "a.token")
        .unwrap();
    let r = c2.pinning_remove("a", true).await.unwrap();
    assert!(r.error.is_some() && r.requests_left, "{r:?}");
    assert!(
        !r.error.as_deref().unwrap_or("").contains("sekrit"),
        "{r:?}"
    );
    assert!(
        r.summary.iter().any(|s| s.contains("left there")),
        "{:?}",
        r.summary
    );
    assert_eq!(on_disk(&c2), json!([]));

    let e = c
        .pinning_remove("nobody", false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no pinning service is named `nobody`"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_with_deleting_deletes_the_station_requests_on_the_service() {
    use crate::pinning::api::{Client, Pin};
    let double = pinning_double::PinningDouble::start(pinning_double::Options::new("dbl-token"))
        .await
        .unwrap();
    let (_d, c) = console();
    token_file(&c.dir().join("cluster.token"), "dbl-token", 0o600);
    c.pinning_add("cluster", &double.endpoint(), "cluster.token")
        .unwrap();
    let st = c.station().unwrap();
    let svc = st.setup.remote_pinning[0].clone();
    let client = Client::new(&svc, remote_pinning::read_token(&svc).unwrap()).unwrap();
    let cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    for name in [
        crate::pinning::request_name(&st.streaming.ipns_key, "library"),
        crate::pinning::request_name(&st.streaming.ipns_key, "page"),
        "someone-else".to_string(),
    ] {
        client
            .add(&Pin {
                cid: cid.into(),
                name: Some(name),
                ..Pin::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(double.pins().len(), 3);

    let r = c.pinning_remove("cluster", true).await.unwrap();
    assert_eq!(
        (r.deleted, r.error.as_deref(), r.requests_left),
        (2, None, false),
        "{r:?}"
    );
    assert!(
        r.summary.iter().any(|s| s.contains("2 pin requests")),
        "{:?}",
        r.summary
    );
    let left: Vec<_> = double.pins().into_iter().filter_map(|p| p.name).collect();
    assert_eq!(left, ["someone-else"]);
    assert_eq!(on_disk(&c), json!([]));
    double.shutdown().await;
}
