//! `smart_style_url` (SMART App Launch 2.2 §"Styling"): the EHR's style document, of which only
//! values that are plainly colours, sizes or font names are used, as CSS custom properties.

use serde_json::Value;

/// A CSS colour: `#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb()/rgba()/hsl()` of numbers, or a name.
pub fn is_color(s: &str) -> bool {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    for f in ["rgb(", "rgba(", "hsl(", "hsla("] {
        if let Some(inner) = s.strip_prefix(f).and_then(|r| r.strip_suffix(')')) {
            return !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b" .,%/".contains(&b));
        }
    }
    (3..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// A length: a number with px, em, rem or %.
pub fn is_size(s: &str) -> bool {
    let s = s.trim();
    let num = ["px", "rem", "em", "%"]
        .iter()
        .find_map(|u| s.strip_suffix(u));
    num.is_some_and(|n| {
        !n.is_empty() && n.len() <= 6 && n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v))
    })
}

/// Font family names: letters and digits of any script, spaces, commas, hyphens and quotes.
pub fn is_font(s: &str) -> bool {
    (1..=120).contains(&s.len())
        && s.chars()
            .all(|c| c.is_alphanumeric() || " ,-'\"".contains(c))
}

/// `(css variable, value)` pairs from a style document; everything that fails its check is
/// dropped.
pub fn variables(doc: &Value) -> Vec<(&'static str, String)> {
    type Check = fn(&str) -> bool;
    const MAP: &[(&str, &str, Check)] = &[
        ("color_background", "--bg", is_color),
        ("color_text", "--fg", is_color),
        ("color_highlight", "--accent", is_color),
        ("color_error", "--error", is_color),
        ("dim_border_radius", "--radius", is_size),
        ("dim_font_size", "--font-size", is_size),
        ("dim_spacing_size", "--space", is_size),
        ("font_family_body", "--font-body", is_font),
    ];
    MAP.iter()
        .filter_map(|(key, var, ok)| {
            let v = doc[*key].as_str()?;
            ok(v).then(|| (*var, v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_values_pass() {
        for good in [
            "#fff",
            "#2f6fb3",
            "rgb(1, 2, 3)",
            "hsla(120, 50%, 50%, 0.5)",
            "navy",
        ] {
            assert!(is_color(good), "{good}");
        }
        for bad in [
            "#ggg",
            "red;background:url(x)",
            "url(https://evil)",
            "expression(alert(1))",
            "rgb(1,2,3);x",
            "",
        ] {
            assert!(!is_color(bad), "{bad}");
        }
        assert!(
            is_size("6px")
                && is_size("1.5rem")
                && !is_size("6px;")
                && !is_size("calc(1px)")
                && !is_size("px")
        );
        assert!(
            is_font("system-ui, \"Segoe UI\", sans-serif") && !is_font("x; } body { display:none")
        );
        let vars = variables(
            &json!({"color_background":"#f3f5f8","color_text":"red;x","dim_font_size":"15px","font_family_body":"a{b}"}),
        );
        assert_eq!(
            vars,
            vec![
                ("--bg", "#f3f5f8".to_string()),
                ("--font-size", "15px".to_string())
            ]
        );
    }
}
