//! The UniFFI Java generator (uniffi-bindgen-java: Java over the Foreign
//! Function & Memory API), built on the same pinned uniffi as the library.

fn main() {
    if let Err(e) = uniffi_bindgen_java::run_main() {
        eprintln!("uniffi-bindgen-java: {e:#}");
        std::process::exit(1);
    }
}
