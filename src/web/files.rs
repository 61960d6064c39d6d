//! Files: attachments' bytes as Blob URLs, and text in a named charset.

use js_sys::Array;

use super::describe;

/// Text in a named charset, decoded by the browser's `TextDecoder` (the WHATWG Encoding
/// standard's labels; bytes that do not decode become U+FFFD); `None` for a label it does not
/// know.
pub fn decode_text(label: &str, bytes: &[u8]) -> Option<String> {
    web_sys::TextDecoder::new_with_label(label)
        .ok()?
        .decode_with_u8_array(bytes)
        .ok()
}

/// A Blob URL for bytes fetched with the token (an attachment, a narrative's image): the
/// browser shows or saves it without another request. Revoke it ([`revoke_blob_url`]) when
/// the view that uses it goes.
pub fn blob_url(bytes: &[u8], blob_type: &str) -> Result<String, String> {
    let parts = Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(blob_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| describe(&e))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| describe(&e))
}

pub fn revoke_blob_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}
