//! Embeds the listener page (`ui/listener/`) in the engine: its files are copied into
//! `OUT_DIR/listener/` for `include_bytes!`. The page's player, `vendor/hls.min.js`, comes
//! from the npm registry through `scripts/listener-page.sh`; when it is missing the build
//! goes on with an empty file and a warning, and publishing the page says how to fix it.

use std::path::Path;

/// The page's files, relative to `ui/listener/` (the same list as `air::listener::PAGE_FILES`).
const PAGE_FILES: [&str; 4] = [
    "index.html",
    "listener.js",
    "style.css",
    "vendor/hls.min.js",
];

fn main() {
    let out = std::env::var("OUT_DIR").map(std::path::PathBuf::from);
    let Ok(out) = out else {
        println!("cargo:warning=OUT_DIR is not set");
        return;
    };
    let src = Path::new("ui/listener");
    for rel in PAGE_FILES {
        let from = src.join(rel);
        let to = out.join("listener").join(rel);
        println!("cargo:rerun-if-changed={}", from.display());
        if let Some(dir) = to.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                println!("cargo:warning=cannot create {}: {e}", dir.display());
            }
        }
        let bytes = match std::fs::read(&from) {
            Ok(b) => b,
            Err(e) => {
                println!(
                    "cargo:warning={} is missing ({e}): run scripts/listener-page.sh; the listener page cannot be published until then",
                    from.display()
                );
                Vec::new()
            }
        };
        if let Err(e) = std::fs::write(&to, bytes) {
            println!("cargo:warning=cannot write {}: {e}", to.display());
        }
    }
}
