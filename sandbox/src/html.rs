//! Server-rendered pages (launch page, login, patient picker, approval, errors). Every value
//! from a request or the data is escaped.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Text or a quoted attribute value as HTML: `& < > " ' /` escaped (html-escape's `encode_safe`).
pub fn escape(s: &str) -> String {
    html_escape::encode_safe(s).into_owned()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f3f5f8;color:#1b2430}\
header{background:#234a7d;color:#fff;padding:.6rem 1rem;font-weight:600}\
main{max-width:46rem;margin:1rem auto;padding:0 1rem}\
section{background:#fff;border:1px solid #d5dbe3;border-radius:6px;padding:1rem;margin-bottom:1rem}\
label{display:block;margin:.4rem 0}\
select,input[type=text]{font:inherit;padding:.3rem;width:100%;max-width:100%;box-sizing:border-box}\
p,b,td{overflow-wrap:anywhere}\
button{font:inherit;padding:.4rem 1rem;margin:.4rem .4rem 0 0;cursor:pointer}\
.err{border-color:#b3261e;color:#7a1410}iframe{width:100%;height:80vh;border:1px solid #999;background:#fff}\
.muted{color:#5b6775;font-size:.9em}";

/// A complete HTML page. `body` must already be escaped markup.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <header>Sandbox EHR</header><main>{body}</main></body></html>",
        t = escape(title)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// An error shown to the user at the authorization server, never a redirect (RFC 6749 §4.1.2.1:
/// a bad client or redirect URI must not be redirected to).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Authorization error",
        &format!(
            "<section class=\"err\"><h1>Authorization error</h1><p id=\"error\">{}</p></section>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        let raw = "<b a=\"x\">&'";
        let escaped = super::escape(raw);
        assert!(
            escaped.starts_with("&lt;b a=&quot;x&quot;&gt;&amp;&#"),
            "{escaped}"
        );
        assert!(!escaped.contains(['<', '>', '"', '\'']), "{escaped}");
        assert_eq!(html_escape::decode_html_entities(&escaped), raw);
    }
}
