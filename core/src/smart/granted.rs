//! Which resource types the granted scopes let the app read, so a section whose type was not
//! granted says so instead of sending a doomed request (SMART App Launch 2.2 §"Scopes").
//!
//! The granted scope is read as servers write it, not only as the specification spells it:
//! Epic returns `Patient.read Patient.search ` (no `patient/` prefix, a trailing space) and
//! mixes `.Read` with `.read` (its OAuth documentation; sandbox/src/profile.rs). Such spellings are read for what they grant; nothing
//! is read as granting more than its words (a scope whose permission is not a read or a search
//! grants nothing here).

/// One clinical scope as granted: its resource type (`*` for all) and whether it allows
/// searching. `None` for other scopes (`launch`, `openid`, …) and for unknown spellings.
fn clinical(scope: &str) -> Option<(&str, bool)> {
    let rest = match scope.split_once('/') {
        Some((level, rest))
            if ["patient", "user", "system"]
                .iter()
                .any(|l| level.eq_ignore_ascii_case(l)) =>
        {
            rest
        }
        Some(_) => return None,
        // Unprefixed (`Patient.read`): the level the server chose for this launch.
        None => scope,
    };
    let (ty, perms) = rest.split_once('.')?;
    if ty != "*" && !ty.bytes().next().is_some_and(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let perms = perms.split('?').next().unwrap_or("").to_ascii_lowercase();
    let searches = match perms.as_str() {
        // v1, and Epic's own `search`.
        "read" | "*" | "search" => true,
        v2 => !v2.is_empty() && v2.contains('s') && v2.chars().all(|c| "cruds".contains(c)),
    };
    Some((ty, searches))
}

/// Whether `granted` (space-separated) allows searching `resource_type`, at patient or user
/// level (or unprefixed), in v1 (`.read`, `.*`) or v2 (`.rs`, `.s`, `.cruds`) syntax.
pub fn can_search(granted: &str, resource_type: &str) -> bool {
    granted.split_whitespace().any(|s| {
        clinical(s).is_some_and(|(ty, searches)| searches && (ty == "*" || ty == resource_type))
    })
}

/// Requested scopes the server did not grant. A clinical scope counts as granted when what was
/// granted lets the app search its type, in whatever spelling (`patient/Condition.rs` is
/// granted by `Condition.read`); other scopes must come back as they were sent (in any case).
pub fn not_granted<'a>(requested: &'a str, granted: &str) -> Vec<&'a str> {
    let g: Vec<&str> = granted.split_whitespace().collect();
    requested
        .split_whitespace()
        .filter(|r| match clinical(r) {
            Some((ty, true)) if ty != "*" => !can_search(granted, ty),
            _ => !g.iter().any(|x| x.eq_ignore_ascii_case(r)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1_and_v2() {
        assert!(can_search("patient/Observation.read", "Observation"));
        assert!(can_search("user/*.rs", "Condition"));
        assert!(can_search("patient/*.*", "Condition"));
        assert!(can_search(
            "patient/Observation.s?category=laboratory",
            "Observation"
        ));
        assert!(!can_search("patient/Observation.r", "Observation"));
        assert!(!can_search("patient/Observation.rs", "Condition"));
        assert!(!can_search("launch openid fhirUser", "Patient"));
        assert!(!can_search("patient/Observation.write", "Observation"));
        assert_eq!(not_granted("a b c", "c a"), vec!["b"]);
    }

    /// Epic's unprefixed, mixed-case, space-trailed grants read for what they say,
    /// and no more.
    #[test]
    fn reads_the_spellings_real_ehrs_grant() {
        let epic = "Patient.read Patient.search Observation.Read Condition.READ launch/patient ";
        assert!(can_search(epic, "Patient"));
        assert!(can_search(epic, "Observation"));
        assert!(can_search(epic, "Condition"));
        assert!(!can_search(epic, "Encounter"), "not widened");
        assert!(can_search("PATIENT/Observation.rs", "Observation"));
        assert!(!can_search("Observation.write", "Observation"));
        assert!(!can_search("launch/patient", "Patient"), "a context scope");
        assert!(!can_search("observation.read", "Observation"), "not a type");
        assert!(!can_search("other/Observation.read", "Observation"));
        assert_eq!(
            not_granted(
                "launch openid fhirUser patient/Patient.rs patient/Condition.rs patient/Encounter.rs online_access",
                "LAUNCH openid fhirUser Patient.read Condition.Read"
            ),
            vec!["patient/Encounter.rs", "online_access"]
        );
    }
}
