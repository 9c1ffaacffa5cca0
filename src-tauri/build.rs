//! Generates Tauri's context (config, capabilities, assets) at build time.

fn main() {
    tauri_build::build()
}
