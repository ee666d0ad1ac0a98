//! The UniFFI binding generator, built from the same pinned uniffi as the library.

fn main() {
    uniffi::uniffi_bindgen_main()
}
