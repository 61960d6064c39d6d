//! SMART scopes as the server reads them (SMART App Launch 2.2 "Scopes and Launch Context"):
//! v1 `patient/Observation.read` and v2 `patient/Observation.rs`, context scopes, and the
//! check of a FHIR interaction against what was granted.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Patient,
    User,
    System,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceScope {
    pub level: Level,
    /// A resource type or `*`.
    pub resource_type: String,
    pub read: bool,
    pub search: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Launch,
    LaunchPatient,
    LaunchEncounter,
    OpenId,
    FhirUser,
    Profile,
    OfflineAccess,
    OnlineAccess,
    Resource(ResourceScope),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    Read,
    Search,
}

/// Parses one scope token; `None` for a token the server does not know (it is not granted).
pub fn parse(token: &str) -> Option<Scope> {
    Some(match token {
        "launch" => Scope::Launch,
        "launch/patient" => Scope::LaunchPatient,
        "launch/encounter" => Scope::LaunchEncounter,
        "openid" => Scope::OpenId,
        "fhirUser" => Scope::FhirUser,
        "profile" => Scope::Profile,
        "offline_access" => Scope::OfflineAccess,
        "online_access" => Scope::OnlineAccess,
        _ => return parse_resource(token).map(Scope::Resource),
    })
}

fn parse_resource(token: &str) -> Option<ResourceScope> {
    let (level, rest) = token.split_once('/')?;
    let level = match level {
        "patient" => Level::Patient,
        "user" => Level::User,
        "system" => Level::System,
        _ => return None,
    };
    // v2 allows a query suffix that narrows the scope (`?category=...`); this server does not
    // implement such filters, so it refuses them rather than grant more than was asked.
    if rest.contains('?') {
        return None;
    }
    let (resource_type, perms) = rest.split_once('.')?;
    let known = resource_type == "*" || crate::data::RESOURCE_TYPES.contains(&resource_type);
    if !known {
        return None;
    }
    let (read, search) = match perms {
        "read" | "*" => (true, true),
        "write" => (false, false),
        v2 => {
            // v2 permissions are a subset of `cruds`, in that order, each at most once.
            let mut last = None;
            for c in v2.chars() {
                let pos = "cruds".find(c)?;
                if last.is_some_and(|l| pos <= l) {
                    return None;
                }
                last = Some(pos);
            }
            if v2.is_empty() {
                return None;
            }
            (v2.contains('r'), v2.contains('s'))
        }
    };
    Some(ResourceScope {
        level,
        resource_type: resource_type.to_string(),
        read,
        search,
    })
}

/// The scope tokens of a space-separated string that the server knows, in order, without repeats.
pub fn known_tokens(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in scope.split(' ').filter(|t| !t.is_empty()) {
        if parse(t).is_some() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

pub fn has(tokens: &[String], scope: &Scope) -> bool {
    tokens.iter().any(|t| parse(t).as_ref() == Some(scope))
}

/// Whether the granted scopes allow `interaction` on `resource_type` at `level`.
pub fn allows(
    tokens: &[String],
    level: Level,
    resource_type: &str,
    interaction: Interaction,
) -> bool {
    tokens.iter().filter_map(|t| parse_resource(t)).any(|s| {
        s.level == level
            && (s.resource_type == "*" || s.resource_type == resource_type)
            && match interaction {
                Interaction::Read => s.read,
                Interaction::Search => s.search,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        known_tokens(s)
    }

    #[test]
    fn v1_and_v2_syntax() {
        let g = t(
            "patient/Observation.read user/*.rs patient/Condition.s bogus/x.read patient/Foo.read",
        );
        assert_eq!(
            g,
            vec![
                "patient/Observation.read",
                "user/*.rs",
                "patient/Condition.s"
            ]
        );
        assert!(allows(
            &g,
            Level::Patient,
            "Observation",
            Interaction::Search
        ));
        assert!(allows(&g, Level::User, "Patient", Interaction::Read));
        assert!(allows(&g, Level::Patient, "Condition", Interaction::Search));
        assert!(!allows(&g, Level::Patient, "Condition", Interaction::Read));
        assert!(!allows(&g, Level::Patient, "Patient", Interaction::Read));
    }

    #[test]
    fn malformed_v2_permissions_are_unknown() {
        assert!(parse("patient/Observation.sr").is_none());
        assert!(parse("patient/Observation.rr").is_none());
        assert!(parse("patient/Observation.").is_none());
        assert!(parse("patient/Observation.rs?category=laboratory").is_none());
        assert!(parse("patient/Observation.cruds").is_some());
    }
}
