//! Absolute http(s) URLs: the FHIR base, discovered endpoints, references and `next` links,
//! and `application/x-www-form-urlencoded` forms (the authorize query, the token request, the
//! launch parameters).
//!
//! Why not the `url` crate: with its IDNA tables it was ~35 KB of the wasm download (issue 5),
//! and the app needs much less than the WHATWG URL Standard. What it needs is to be *strict*:
//! a URL decides where a Bearer token goes (SECURITY.md), so anything this parser does not
//! read exactly as a browser would (backslashes, whitespace or control characters, user info,
//! non-ASCII or percent-encoded host names, schemes without `//`) is refused rather than
//! interpreted, and the app only ever sends the canonical text it produced itself: scheme and
//! host lower-cased, default port dropped, dot segments resolved (`%2e` counts as a dot, as in
//! the URL Standard §4.4 "single-dot / double-dot URL path segment"), and characters a browser
//! would percent-encode already encoded.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not an absolute `http://` or `https://` URL.
    NotHttp,
    /// `user:password@` in the authority.
    Credentials,
    /// A character or form this parser does not accept.
    Invalid,
}

/// A parsed, canonical absolute http(s) URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    text: String,
    /// `scheme://host[:port]` is `text[..origin_end]`.
    origin_end: usize,
    /// Where the query's `?` and the fragment's `#` are in `text`, if present.
    query_start: Option<usize>,
    fragment_start: Option<usize>,
    scheme_https: bool,
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Url {
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        if input.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') {
            return Err(UrlError::Invalid);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::NotHttp)?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(UrlError::NotHttp);
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let (host, port) = split_port(authority)?;
        let host = canonical_host(host)?;
        let default_port = if https { 443 } else { 80 };

        let mut text = String::from(if https { "https://" } else { "http://" });
        text.push_str(&host);
        if let Some(p) = port.filter(|p| *p != default_port) {
            text.push(':');
            text.push_str(&p.to_string());
        }
        let origin_end = text.len();

        let (path, query, fragment) = split_path(tail);
        text.push_str(&normalize_path(path));
        let query_start = query.map(|q| {
            let at = text.len();
            text.push('?');
            encode_into(&mut text, q, b"\"<>'");
            at
        });
        let fragment_start = fragment.map(|f| {
            let at = text.len();
            text.push('#');
            encode_into(&mut text, f, b"\"<>`");
            at
        });
        Ok(Url {
            text,
            origin_end,
            query_start,
            fragment_start,
            scheme_https: https,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn scheme(&self) -> &str {
        if self.scheme_https {
            "https"
        } else {
            "http"
        }
    }

    /// `scheme://host[:port]`, the origin in its serialised form.
    pub fn origin(&self) -> &str {
        &self.text[..self.origin_end]
    }

    /// The host, lower-cased (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        let after_scheme = self.scheme().len() + 3;
        let host_and_port = &self.text[after_scheme..self.origin_end];
        match host_and_port.rfind(':') {
            Some(i) if !host_and_port[i..].contains(']') => &host_and_port[..i],
            _ => host_and_port,
        }
    }

    fn path_end(&self) -> usize {
        self.query_start
            .or(self.fragment_start)
            .unwrap_or(self.text.len())
    }

    /// Always starts with `/`.
    pub fn path(&self) -> &str {
        &self.text[self.origin_end..self.path_end()]
    }

    pub fn query(&self) -> Option<&str> {
        let start = self.query_start? + 1;
        Some(&self.text[start..self.fragment_start.unwrap_or(self.text.len())])
    }

    pub fn fragment(&self) -> Option<&str> {
        Some(&self.text[self.fragment_start? + 1..])
    }

    /// The same URL with another path (normalised), keeping no query or fragment.
    pub fn with_path(&self, path: &str) -> Url {
        let mut text = self.origin().to_string();
        text.push_str(&normalize_path(path));
        Url {
            text,
            origin_end: self.origin_end,
            query_start: None,
            fragment_start: None,
            scheme_https: self.scheme_https,
        }
    }

    /// Resolves a reference against this URL (RFC 3986 §5.2), then parses the result as
    /// strictly as [`Url::parse`].
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        if has_scheme(reference) {
            return Url::parse(reference);
        }
        if reference.starts_with("//") {
            return Url::parse(&format!("{}:{reference}", self.scheme()));
        }
        let (path, query, fragment) = split_path(reference);
        let mut text = self.origin().to_string();
        if path.is_empty() {
            text.push_str(self.path());
            match (query, self.query()) {
                (Some(q), _) | (None, Some(q)) => {
                    text.push('?');
                    text.push_str(q);
                }
                (None, None) => {}
            }
        } else {
            if path.starts_with('/') {
                text.push_str(path);
            } else {
                let base = self.path();
                text.push_str(&base[..base.rfind('/').map_or(0, |i| i + 1)]);
                text.push_str(path);
            }
            if let Some(q) = query {
                text.push('?');
                text.push_str(q);
            }
        }
        if let Some(f) = fragment {
            text.push('#');
            text.push_str(f);
        }
        Url::parse(&text)
    }
}

/// `path?query#fragment` into its parts (RFC 3986 §3).
fn split_path(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    match rest.split_once('?') {
        Some((p, q)) => (p, Some(q), fragment),
        None => (rest, None, fragment),
    }
}

/// `scheme:` at the start (RFC 3986 §3.1).
fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let scheme = &s.as_bytes()[..i];
            scheme[0].is_ascii_alphabetic()
                && scheme
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
        }
        _ => false,
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let colon = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::Invalid)?;
        match &authority[close + 1..] {
            "" => None,
            rest if rest.starts_with(':') => Some(close + 1),
            _ => return Err(UrlError::Invalid),
        }
    } else {
        authority.find(':')
    };
    let Some(colon) = colon else {
        return Ok((authority, None));
    };
    let digits = &authority[colon + 1..];
    if digits.is_empty() {
        return Ok((&authority[..colon], None));
    }
    if digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Invalid);
    }
    let port = digits.parse::<u16>().map_err(|_| UrlError::Invalid)?;
    Ok((&authority[..colon], Some(port)))
}

/// ASCII host names (letters, digits, `-`, `.`, `_`) and bracketed IPv6 literals, lower-cased.
/// Anything else (non-ASCII, `%`, an empty host) is refused: a browser would rewrite it.
fn canonical_host(host: &str) -> Result<String, UrlError> {
    let ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(UrlError::Invalid)
    }
}

fn is_dot(segment: &str) -> bool {
    segment == "." || segment.eq_ignore_ascii_case("%2e")
}

fn is_dot_dot(segment: &str) -> bool {
    matches!(segment.len(), 2 | 4 | 6) && segment.to_ascii_lowercase().replace("%2e", ".").eq("..")
}

/// `/` for an empty path; dot segments resolved; characters a browser would encode, encoded.
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if is_dot_dot(seg) {
            out.pop();
            if i == last {
                out.push("");
            }
        } else if is_dot(seg) {
            if i == last {
                out.push("");
            }
        } else {
            out.push(seg);
        }
    }
    let mut text = String::from("/");
    encode_into(&mut text, &out.join("/"), b"\"<>`{}");
    text
}

/// Copies `s`, percent-encoding non-ASCII bytes and the listed ASCII ones.
fn encode_into(out: &mut String, s: &str, also: &[u8]) {
    for c in s.chars() {
        if c.is_ascii() && !also.contains(&(c as u8)) {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                push_hex(out, b);
            }
        }
    }
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

/// One path segment: everything but unreserved characters and `!$&'()*+,;=:@` is encoded,
/// so an id can never add a segment or a query.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            push_hex(&mut out, b);
        }
    }
    out
}

/// `application/x-www-form-urlencoded` (URL Standard §5.2): alphanumerics and `*-._` stay,
/// space is `+`, every other byte is percent-encoded.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_component(&mut out, k);
        out.push('=');
        form_component(&mut out, v);
    }
    out
}

fn form_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => out.push(b as char),
            b => push_hex(out, b),
        }
    }
}

/// Parses `application/x-www-form-urlencoded` (URL Standard §5.1): `+` is a space, bad
/// percent escapes stay as they are, invalid UTF-8 becomes U+FFFD.
pub fn form_decode(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Url::parse(s)
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("{e:?}"))
    }

    #[test]
    fn canonical_form() {
        assert_eq!(p("HTTPS://EHR.Example:443/r4/"), "https://ehr.example/r4/");
        assert_eq!(p("http://localhost:9000"), "http://localhost:9000/");
        assert_eq!(p("http://localhost:80/x"), "http://localhost/x");
        assert_eq!(p("https://ehr.example:/x"), "https://ehr.example/x");
        assert_eq!(p("http://[::1]:9000/fhir"), "http://[::1]:9000/fhir");
        assert_eq!(p("https://e/a/./b/../c/%2E%2e/d"), "https://e/a/d");
        assert_eq!(p("https://e/a/.."), "https://e/");
        assert_eq!(p("https://e/a/b/."), "https://e/a/b/");
        assert_eq!(p("https://e/../../x"), "https://e/x");
        assert_eq!(
            p("https://e/x?q=a\"b'<>#f\"`"),
            "https://e/x?q=a%22b%27%3C%3E#f%22%60"
        );
        assert_eq!(p("https://e/é{}"), "https://e/%C3%A9%7B%7D");
        assert_eq!(p("https://e/x?"), "https://e/x?");
        let u = Url::parse("https://Ehr.example:8443/fhir/Patient?_count=5#top").unwrap();
        assert_eq!(u.origin(), "https://ehr.example:8443");
        assert_eq!(u.host(), "ehr.example");
        assert_eq!(u.path(), "/fhir/Patient");
        assert_eq!(u.query(), Some("_count=5"));
        assert_eq!(u.fragment(), Some("top"));
        assert_eq!(Url::parse("http://[::1]/").unwrap().host(), "[::1]");
        assert_eq!(u.with_path("/r4/").as_str(), "https://ehr.example:8443/r4/");
    }

    #[test]
    fn refuses_what_a_browser_would_read_differently() {
        for bad in [
            "https://ehr.example\\@evil.example/",
            "https://ehr.example /x",
            "https://ehr.example/x\ty",
            "https://ehr.exa\nmple/",
            "https://%65vil.example/",
            "https://еhr.example/",
            "https://ehr.example:99999/",
            "https://ehr.example:8a/",
            "https://[::1/",
            "https://[::1]x/",
            "https:///x",
            "https://",
            "",
        ] {
            assert_eq!(Url::parse(bad).map(|u| u.to_string()).ok(), None, "{bad:?}");
        }
        assert_eq!(
            Url::parse("https://user:pw@ehr.example/"),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            Url::parse("https://ehr.example@evil.example/"),
            Err(UrlError::Credentials)
        );
        for not_http in [
            "javascript:alert(1)",
            "ftp://e/",
            "http:e/x",
            "https:/e",
            "/fhir",
            "e/x",
        ] {
            assert_eq!(Url::parse(not_http), Err(UrlError::NotHttp), "{not_http}");
        }
    }

    #[test]
    fn joins_like_rfc_3986() {
        let base = Url::parse("https://e/fhir/Patient/1?x=1#f").unwrap();
        let j = |r: &str| {
            base.join(r)
                .map(|u| u.to_string())
                .unwrap_or_else(|e| format!("{e:?}"))
        };
        assert_eq!(j("Practitioner/2"), "https://e/fhir/Patient/Practitioner/2");
        assert_eq!(j("../Practitioner/2"), "https://e/fhir/Practitioner/2");
        assert_eq!(j("/other"), "https://e/other");
        assert_eq!(j("//evil.example/fhir"), "https://evil.example/fhir");
        assert_eq!(j("http://e/x"), "http://e/x");
        assert_eq!(j("?y=2"), "https://e/fhir/Patient/1?y=2");
        assert_eq!(j("#g"), "https://e/fhir/Patient/1?x=1#g");
        assert_eq!(j(""), "https://e/fhir/Patient/1?x=1");
        assert_eq!(j("a?b#c"), "https://e/fhir/Patient/a?b#c");
        assert_eq!(j("../../../../x"), "https://e/x");
        assert_eq!(j("%2e%2e/x"), "https://e/fhir/x");
        assert_eq!(j("javascript:alert(1)"), "NotHttp");
        assert_eq!(j("x\\y"), "Invalid");
    }

    #[test]
    fn forms_round_trip() {
        let f = form_encode(&[("scope", "launch patient/*.rs"), ("a&b", "é=1~")]);
        assert_eq!(f, "scope=launch+patient%2F*.rs&a%26b=%C3%A9%3D1%7E");
        assert_eq!(
            form_decode(&f),
            vec![
                ("scope".to_string(), "launch patient/*.rs".to_string()),
                ("a&b".to_string(), "é=1~".to_string())
            ]
        );
        assert_eq!(
            form_decode("a=%zz&&b&c=%4&d=%41%ff"),
            vec![
                ("a".to_string(), "%zz".to_string()),
                ("b".to_string(), String::new()),
                ("c".to_string(), "%4".to_string()),
                ("d".to_string(), "A\u{fffd}".to_string())
            ]
        );
        assert_eq!(encode_segment("a/b c?#%"), "a%2Fb%20c%3F%23%25");
    }

    /// The `url` crate (WHATWG URL Standard) as an oracle: wherever this parser accepts a URL,
    /// its canonical text is the one the standard gives, so the browser fetches what was checked.
    #[test]
    fn agrees_with_the_url_standard_where_it_accepts() {
        let corpus = [
            "https://ehr.example/fhir",
            "HTTPS://EHR.EXAMPLE:443/fhir/",
            "http://localhost:9000/fhir/Patient?_count=5&name=Jos%C3%A9",
            "https://e/a/./b/../c/%2e%2E/d?x#y",
            "https://e:8443/x/%2e/y/.",
            "https://e/é/{x}?q=<é>'\"#`f`",
            "http://[::1]:9000/fhir",
            "https://e/x?a=1&b=2#frag",
            "https://e/..",
            "https://e",
        ];
        for input in corpus {
            let ours = Url::parse(input).unwrap().to_string();
            let theirs = url::Url::parse(input).unwrap().to_string();
            assert_eq!(ours, theirs, "{input}");
        }
        let base = Url::parse("https://e/fhir/Patient/1?x=1#f").unwrap();
        let their_base = url::Url::parse(base.as_str()).unwrap();
        for r in [
            "a",
            "../b",
            "/c",
            "?d",
            "#e",
            "",
            "//f/g",
            "h?i#j",
            "%2e%2e/k",
            "./l/./m/..",
        ] {
            assert_eq!(
                base.join(r).unwrap().to_string(),
                their_base.join(r).unwrap().to_string(),
                "{r}"
            );
        }
        let text = "a b&c=d/é*-._~!'()";
        let theirs: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(text, text)
            .finish();
        assert_eq!(form_encode(&[(text, text)]), theirs);
    }
}
