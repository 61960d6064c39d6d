//! Which resource types the granted scopes let the app read, so a section whose type was not
//! granted says so instead of sending a doomed request (SMART App Launch 2.2 §"Scopes").

/// Whether `granted` (space-separated) allows searching `resource_type`, at patient or user
/// level, in v1 (`.read`, `.*`) or v2 (`.rs`, `.s`, `.cruds`) syntax.
pub fn can_search(granted: &str, resource_type: &str) -> bool {
    granted.split_whitespace().any(|s| {
        let Some((level, rest)) = s.split_once('/') else {
            return false;
        };
        if !matches!(level, "patient" | "user" | "system") {
            return false;
        }
        let Some((ty, perms)) = rest.split_once('.') else {
            return false;
        };
        let perms = perms.split('?').next().unwrap_or("");
        (ty == "*" || ty == resource_type)
            && match perms {
                "read" | "*" => true,
                v2 => v2.contains('s') && v2.chars().all(|c| "cruds".contains(c)),
            }
    })
}

/// Requested scopes the server did not grant.
pub fn not_granted<'a>(requested: &'a str, granted: &str) -> Vec<&'a str> {
    let g: Vec<&str> = granted.split_whitespace().collect();
    requested
        .split_whitespace()
        .filter(|r| !g.contains(r))
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
}
