//! The scope string of an authorize request (SMART App Launch 2.2 §"Scopes and Launch Context"):
//! the launch's context scope, `openid fhirUser`, and the configured clinical scopes in the
//! syntax the server understands (v2 `.rs` with `permission-v2`, v1 `.read` otherwise).

/// Rewrites one v2 clinical scope as v1; other scopes pass through.
pub fn to_v1(scope: &str) -> String {
    let Some((resource, perms)) = scope.rsplit_once('.') else {
        return scope.to_string();
    };
    let is_clinical = ["patient/", "user/", "system/"]
        .iter()
        .any(|p| scope.starts_with(p));
    if !is_clinical || !perms.chars().all(|c| "cruds".contains(c)) || perms.is_empty() {
        return scope.to_string();
    }
    let reads = perms.contains('r') || perms.contains('s');
    let writes = perms.contains('c') || perms.contains('u') || perms.contains('d');
    let v1 = match (reads, writes) {
        (true, true) => "*",
        (true, false) => "read",
        _ => "write",
    };
    format!("{resource}.{v1}")
}

/// The whole space-separated scope, without repeats, context scopes first.
pub fn request_scope(context: &[&str], configured: &str, v2: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    let configured = configured
        .split_whitespace()
        .map(|s| if v2 { s.to_string() } else { to_v1(s) });
    for s in context.iter().map(|s| s.to_string()).chain(configured) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_to_v1() {
        assert_eq!(to_v1("patient/Observation.rs"), "patient/Observation.read");
        assert_eq!(to_v1("user/*.cruds"), "user/*.*");
        assert_eq!(
            to_v1("patient/Observation.cud"),
            "patient/Observation.write"
        );
        assert_eq!(to_v1("openid"), "openid");
        assert_eq!(to_v1("launch/patient"), "launch/patient");
        assert_eq!(
            to_v1("patient/Observation.read"),
            "patient/Observation.read"
        );
    }

    #[test]
    fn builds_without_repeats() {
        assert_eq!(
            request_scope(
                &["launch", "openid", "fhirUser"],
                "openid patient/Patient.rs online_access",
                false
            ),
            "launch openid fhirUser patient/Patient.read online_access"
        );
        assert_eq!(
            request_scope(&["launch/patient"], "patient/Patient.rs", true),
            "launch/patient patient/Patient.rs"
        );
    }
}
