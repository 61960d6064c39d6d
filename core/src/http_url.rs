//! Absolute http(s) URLs: the FHIR base, discovered endpoints, references and `next` links.
//!
//! Parsing is the `url` crate's (the WHATWG URL Standard, the parser browsers use), so the text
//! the app checks is the text the browser fetches: a WHATWG serialisation parses back to the
//! same URL, and the app only ever sends the serialisation it checked. On top sits a thin strict
//! layer, because a URL here decides where a Bearer token goes (SECURITY.md): input the standard
//! would quietly repair or reinterpret is refused instead — backslashes, whitespace or control
//! characters, user info, non-ASCII or percent-encoded host names, schemes without `//`
//! (`http:foo`) and anything but http(s).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not an absolute `http://` or `https://` URL.
    NotHttp,
    /// `user:password@` in the authority.
    Credentials,
    /// A character or form this app does not accept.
    Invalid,
}

/// A parsed, checked absolute http(s) URL in its WHATWG serialisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl(url::Url);

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Whitespace, control characters and backslashes: a browser strips, or reads as `/`, what
/// the app would then have checked in another form.
fn plain_characters(s: &str) -> Result<(), UrlError> {
    if s.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') {
        return Err(UrlError::Invalid);
    }
    Ok(())
}

/// The authority as written (`host[:port]`): no user info, and a plain ASCII host the parser
/// will not rewrite (no `%` escapes, no Unicode to be punycoded, not empty).
fn plain_authority(after_slashes: &str) -> Result<(), UrlError> {
    let authority = after_slashes
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    if authority.is_empty() || !authority.is_ascii() || authority.contains('%') {
        return Err(UrlError::Invalid);
    }
    Ok(())
}

/// `scheme://host[:port]` of an http(s) URL; `None` when it is not one.
pub fn origin_of(url: &str) -> Option<String> {
    HttpUrl::parse(url).ok().map(|u| u.origin())
}

impl HttpUrl {
    pub fn parse(input: &str) -> Result<HttpUrl, UrlError> {
        plain_characters(input)?;
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::NotHttp)?;
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::NotHttp);
        }
        plain_authority(rest)?;
        Self::checked(url::Url::parse(input).map_err(|_| UrlError::Invalid)?)
    }

    /// What the parser gave must still be http(s) without user info: also true of a join.
    fn checked(url: url::Url) -> Result<HttpUrl, UrlError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::Invalid);
        }
        Ok(HttpUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// `scheme://host[:port]`, the origin in its serialised form.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// The host, lower-cased (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }

    /// Always starts with `/`.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    pub fn query(&self) -> Option<&str> {
        self.0.query()
    }

    pub fn fragment(&self) -> Option<&str> {
        self.0.fragment()
    }

    /// The same URL with another path (dot segments resolved), keeping no query or fragment.
    pub fn with_path(&self, path: &str) -> HttpUrl {
        let mut u = self.0.clone();
        u.set_path(path);
        u.set_query(None);
        u.set_fragment(None);
        HttpUrl(u)
    }

    /// The same URL with `name=value` added to its query (form-encoded).
    pub fn with_query_pair(&self, name: &str, value: &str) -> HttpUrl {
        let mut u = self.0.clone();
        u.query_pairs_mut().append_pair(name, value);
        HttpUrl(u)
    }

    /// Resolves a reference against this URL (the URL Standard's "basic URL parser" with a
    /// base), as strictly as [`HttpUrl::parse`]: a reference that names another server is
    /// checked as a URL of its own.
    pub fn join(&self, reference: &str) -> Result<HttpUrl, UrlError> {
        plain_characters(reference)?;
        if let Some(rest) = reference.strip_prefix("//") {
            plain_authority(rest)?;
        } else if reference.contains("://") || has_scheme(reference) {
            return HttpUrl::parse(reference);
        }
        Self::checked(self.0.join(reference).map_err(|_| UrlError::Invalid)?)
    }
}

/// `scheme:` at the start (RFC 3986 §3.1): `javascript:x` is not a relative path.
fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) => {
            let scheme = s.as_bytes().get(..i).unwrap_or_default();
            scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
        }
        _ => false,
    }
}

/// One path segment: everything but unreserved characters and `!$&'()*+,;=:@` is encoded, so an
/// id can never add a segment or a query (RFC 3986 §3.3 `pchar`).
pub fn encode_segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const SEGMENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'!')
        .remove(b'$')
        .remove(b'&')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*')
        .remove(b'+')
        .remove(b',')
        .remove(b';')
        .remove(b'=')
        .remove(b':')
        .remove(b'@');
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `application/x-www-form-urlencoded` (URL Standard §5.2), as the url crate writes it.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Parses `application/x-www-form-urlencoded` (URL Standard §5.1).
pub fn form_decode(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        HttpUrl::parse(s)
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
        let u = HttpUrl::parse("https://Ehr.example:8443/fhir/Patient?_count=5#top").unwrap();
        assert_eq!(u.origin(), "https://ehr.example:8443");
        assert_eq!(u.host(), "ehr.example");
        assert_eq!(u.path(), "/fhir/Patient");
        assert_eq!(u.query(), Some("_count=5"));
        assert_eq!(u.fragment(), Some("top"));
        assert_eq!(HttpUrl::parse("http://[::1]/").unwrap().host(), "[::1]");
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
            assert_eq!(
                HttpUrl::parse(bad).map(|u| u.to_string()).ok(),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(
            HttpUrl::parse("https://user:pw@ehr.example/"),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            HttpUrl::parse("https://ehr.example@evil.example/"),
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
            assert_eq!(
                HttpUrl::parse(not_http),
                Err(UrlError::NotHttp),
                "{not_http}"
            );
        }
    }

    #[test]
    fn joins_like_the_url_standard() {
        let base = HttpUrl::parse("https://e/fhir/Patient/1?x=1#f").unwrap();
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
        // A reference naming a server is held to the same rules as a URL of its own.
        assert_eq!(j("//%65vil.example/x"), "Invalid");
        assert_eq!(j("//user@e/x"), "Credentials");
        assert_eq!(j("https://user@e/x"), "Credentials");
    }

    #[test]
    fn a_query_pair_is_added_encoded() {
        let u = HttpUrl::parse("https://auth.example/oauth2/v1/keys").unwrap();
        assert_eq!(
            u.with_query_pair("client_id", "a b&c").to_string(),
            "https://auth.example/oauth2/v1/keys?client_id=a+b%26c"
        );
        let q = HttpUrl::parse("https://auth.example/keys?x=1").unwrap();
        assert_eq!(
            q.with_query_pair("client_id", "c").to_string(),
            "https://auth.example/keys?x=1&client_id=c"
        );
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

    /// What the removed parser of our own was checked against, now checked of the layer: where
    /// it accepts a URL, its text is the URL Standard's, so the browser fetches what was checked.
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
            let ours = HttpUrl::parse(input).unwrap().to_string();
            let theirs = url::Url::parse(input).unwrap().to_string();
            assert_eq!(ours, theirs, "{input}");
            // The serialisation parses back to itself: the fetch reads what the check read.
            assert_eq!(HttpUrl::parse(&ours).unwrap().to_string(), ours);
        }
        let base = HttpUrl::parse("https://e/fhir/Patient/1?x=1#f").unwrap();
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
    }
}
