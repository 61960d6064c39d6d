#![cfg(not(target_arch = "wasm32"))]
//! The JSON the app reads (server answers, config.json, what it stored) goes through serde_json.
//! A corpus of JSON edge cases, held to serde_json as the app uses it: strict RFC 8259, bounded
//! nesting, the last of repeated names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

#[test]
fn reads_the_rfc_grammar() {
    let v = parse(
        r#" {"a": [1, -2.5, 3e2, 0, -0.0, 1E-2], "b": {"c": null, "d": true, "e": false},
            "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "": ""} "#,
    )
    .unwrap();
    assert_eq!(v["a"][1].as_f64(), Some(-2.5));
    assert_eq!(v["a"][2].as_f64(), Some(300.0));
    assert_eq!(v["a"][5].as_f64(), Some(0.01));
    assert_eq!(v["b"]["c"], Value::Null);
    assert_eq!(v["b"]["d"].as_bool(), Some(true));
    assert_eq!(v["s"], "x\"\\/\u{8}\u{c}\n\r\té😀");
    assert_eq!(v[""], "");
    assert!(v["missing"]["deeper"][3].is_null());
    assert_eq!(parse("\"é😀\"").unwrap(), "é😀");
}

#[test]
fn refuses_what_is_not_json() {
    for bad in [
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "{a:1}",
        "'x'",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "NaN",
        "Infinity",
        "tru",
        "nul",
        "[1 2]",
        "{\"a\" 1}",
        "\"\\x\"",
        "\"a",
        "\"\t\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "\"\\udc00\"",
        "{} x",
        "// c\n{}",
        "[1]]",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(serde_json::from_slice::<Value>(b"\"\xff\"").is_err());
    // A number out of f64's range is kept as written (arbitrary_precision, for decimals'
    // precision) but is no usable number: every reader of numbers asks for a finite one.
    let huge = parse("1e400").unwrap();
    assert!(huge.is_number());
    assert!(huge.as_f64().is_none_or(|f| !f.is_finite()));
    // Nesting is bounded: a hostile document cannot exhaust the stack.
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(parse(&deep).is_err());
    let ok = "[".repeat(100) + &"]".repeat(100);
    assert!(parse(&ok).is_ok());
}

#[test]
fn repeated_names_keep_the_last_value() {
    let v = parse(r#"{"iss":"a","iss":"b"}"#).unwrap();
    assert_eq!(v["iss"], "b");
    assert_eq!(v, parse(r#"{"iss":"b"}"#).unwrap());
}

#[test]
fn object_equality_ignores_member_order() {
    let a = parse(r#"{"a":1,"b":[1,2]}"#).unwrap();
    assert_eq!(a, parse(r#"{"b":[1,2],"a":1}"#).unwrap());
    assert_ne!(a, parse(r#"{"b":[2,1],"a":1}"#).unwrap());
    assert_ne!(a, parse(r#"{"a":1}"#).unwrap());
    assert_ne!(a, parse(r#"{"a":1,"b":[1,2],"c":null}"#).unwrap());
}

#[test]
fn numbers_outside_the_exact_range_are_not_integers() {
    assert_eq!(parse("1.5").unwrap().as_u64(), None);
    assert_eq!(parse("-1").unwrap().as_u64(), None);
    assert_eq!(parse("-1").unwrap().as_i64(), Some(-1));
    assert_eq!(parse("9.1e15").unwrap().as_u64(), None);
    assert_eq!(parse("\"1\"").unwrap().as_u64(), None);
}

#[test]
fn writes_what_it_reads() {
    let text = r#"{"a":[1,-2.5,true,null,"q\"\\\n\u0001é"],"b":{},"c":1700000000000}"#;
    let v = parse(text).unwrap();
    assert_eq!(v.to_string(), text);
    assert_eq!(parse(&v.to_string()).unwrap(), v);
    assert_eq!(Value::from(f64::NAN).to_string(), "null");
}
