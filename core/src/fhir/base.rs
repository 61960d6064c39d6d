//! The FHIR base and the one rule for the Bearer token: it goes only to URLs whose origin equals
//! the base's and whose path lies under the base path (SECURITY.md, "Where the token may go").
//! Bundle paging follows `next` links under that rule, with cycle detection and a page cap.

use std::collections::HashSet;

use crate::http_url::{encode_segment, form_encode, HttpUrl};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FhirBase {
    /// Always ends in `/`, so joins and prefix checks work on whole segments.
    dir: HttpUrl,
}

impl FhirBase {
    pub fn new(base: &str) -> Option<Self> {
        let url = HttpUrl::parse(base).ok()?;
        if url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        let dir = if url.path().ends_with('/') {
            url
        } else {
            url.with_path(&format!("{}/", url.path()))
        };
        Some(Self { dir })
    }

    pub fn as_str(&self) -> &str {
        self.dir.as_str().trim_end_matches('/')
    }

    /// `{base}/{type}/{id}` with the id as one encoded path segment.
    pub fn read_url(&self, resource_type: &str, id: &str) -> String {
        format!(
            "{}{}/{}",
            self.dir,
            encode_segment(resource_type),
            encode_segment(id)
        )
    }

    pub fn search_url(&self, resource_type: &str, params: &[(&str, &str)]) -> String {
        let mut u = format!("{}{}", self.dir, encode_segment(resource_type));
        if !params.is_empty() {
            u.push('?');
            u.push_str(&form_encode(params));
        }
        u
    }

    /// Whether `url` may carry the token: same scheme, host and port, path under the base.
    pub fn allows(&self, url: &str) -> bool {
        self.checked(url).is_some()
    }

    /// `url` in the form that was checked (its WHATWG serialisation), if it may carry the
    /// token: the text fetched is the text checked.
    pub fn checked(&self, url: &str) -> Option<String> {
        // User info is refused by the parser.
        let u = HttpUrl::parse(url).ok()?;
        let under = u.origin() == self.dir.origin()
            && (u.path().starts_with(self.dir.path())
                || u.path() == self.dir.path().trim_end_matches('/'));
        under.then(|| u.to_string())
    }

    /// A reference (`Practitioner/1` or an absolute URL) as a URL the token may go to, or `None`
    /// when it points elsewhere.
    pub fn resolve(&self, reference: &str) -> Option<String> {
        let u = self.dir.join(reference).ok()?;
        self.allows(u.as_str()).then(|| u.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum PagingError {
    #[error("the server's next page {0} lies outside the FHIR server; it was not fetched")]
    OffBase(String),
    #[error("the server's pages loop back to {0}; paging stopped")]
    Cycle(String),
    #[error("more than {0} pages; paging stopped")]
    TooManyPages(usize),
}

/// Follows `Bundle.link[relation=next]` safely.
pub struct Pager {
    seen: HashSet<String>,
    pages: usize,
    max_pages: usize,
}

impl Pager {
    pub fn new(first_url: &str, max_pages: usize) -> Self {
        Self {
            seen: HashSet::from([first_url.to_string()]),
            pages: 1,
            max_pages,
        }
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The next page's URL, `None` at the end.
    pub fn next(&mut self, base: &FhirBase, bundle: &Value) -> Result<Option<String>, PagingError> {
        let next = bundle["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str());
        let Some(next) = next else { return Ok(None) };
        let Some(url) = base.resolve(next) else {
            return Err(PagingError::OffBase(next.to_string()));
        };
        if !self.seen.insert(url.clone()) {
            return Err(PagingError::Cycle(url));
        }
        if self.pages >= self.max_pages {
            return Err(PagingError::TooManyPages(self.max_pages));
        }
        self.pages += 1;
        Ok(Some(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> FhirBase {
        FhirBase::new("https://ehr.example/fhir").unwrap()
    }

    #[test]
    fn token_goes_only_under_the_base() {
        let b = base();
        assert!(b.allows("https://ehr.example/fhir/Patient/1"));
        assert!(b.allows("https://ehr.example/fhir"));
        assert!(b.allows("https://ehr.example/fhir/Observation?_count=5"));
        for other in [
            "https://ehr.example/fhir2/Patient/1",
            "https://ehr.example/other/Patient/1",
            "http://ehr.example/fhir/Patient/1",
            "https://ehr.example:8443/fhir/Patient/1",
            "https://evil.example/fhir/Patient/1",
            "https://ehr.example.evil.example/fhir/Patient/1",
            "https://user@ehr.example/fhir/Patient/1",
            "javascript:alert(1)",
            "/fhir/Patient/1",
        ] {
            assert!(!b.allows(other), "{other}");
        }
        assert_eq!(
            b.resolve("Practitioner/dr-1").as_deref(),
            Some("https://ehr.example/fhir/Practitioner/dr-1")
        );
        assert_eq!(b.resolve("https://evil.example/fhir/Practitioner/1"), None);
        assert_eq!(b.resolve("../admin/x"), None);
    }

    #[test]
    fn urls_encode_ids_and_params() {
        let b = base();
        assert_eq!(
            b.read_url("Patient", "a/b c"),
            "https://ehr.example/fhir/Patient/a%2Fb%20c"
        );
        assert_eq!(
            b.search_url(
                "Observation",
                &[("patient", "p1"), ("code", "http://loinc.org|8867-4")]
            ),
            "https://ehr.example/fhir/Observation?patient=p1&code=http%3A%2F%2Floinc.org%7C8867-4"
        );
    }

    fn bundle(next: &str) -> Value {
        json!({"resourceType":"Bundle","link":[{"relation":"self","url":"x"},{"relation":"next","url":next}]})
    }

    #[test]
    fn paging_is_guarded() {
        let b = base();
        let first = b.search_url("Observation", &[("patient", "p")]);
        let mut p = Pager::new(&first, 3);
        assert_eq!(
            p.next(&b, &bundle("https://ehr.example/fhir/Observation?page=2"))
                .unwrap()
                .as_deref(),
            Some("https://ehr.example/fhir/Observation?page=2")
        );
        assert_eq!(
            p.next(&b, &bundle("https://evil.example/fhir/Observation?page=3")),
            Err(PagingError::OffBase(
                "https://evil.example/fhir/Observation?page=3".into()
            ))
        );
        assert!(matches!(
            p.next(&b, &bundle("https://ehr.example/fhir/Observation?page=2")),
            Err(PagingError::Cycle(_))
        ));
        assert_eq!(
            p.next(&b, &bundle("https://ehr.example/fhir/Observation?page=3"))
                .unwrap()
                .as_deref(),
            Some("https://ehr.example/fhir/Observation?page=3")
        );
        assert_eq!(
            p.next(&b, &bundle("https://ehr.example/fhir/Observation?page=4")),
            Err(PagingError::TooManyPages(3))
        );
        assert_eq!(p.next(&b, &json!({"resourceType":"Bundle"})), Ok(None));
    }
}
