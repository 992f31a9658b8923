//! The canonical serialisation that the chain hashes.
//!
//! An auditor can re-implement it in a few lines:
//! - objects: members sorted by key, comparing the keys' UTF-8 bytes (the
//!   same order as Unicode code points), written `{"k":v,"k2":v2}`;
//! - arrays: `[a,b]` in their order;
//! - no whitespace anywhere outside strings;
//! - strings: UTF-8 as is, escaping only `"`, `\`, and the control characters
//!   U+0000 to U+001F (`\b \f \n \r \t` by name, others as `\u00XX` with
//!   lowercase hex), as `serde_json` writes them;
//! - numbers: integers in plain decimal; other numbers in the shortest form
//!   that reads back to the same IEEE-754 double (as `serde_json` writes them,
//!   e.g. `0.8`, `5321.7`, `1e-7`, `1e+300`: ryu's shortest form); `true`,
//!   `false`, `null`.

use serde_json::Value;

/// `value` in canonical form (see the module documentation).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            // Sorted here rather than trusting the map's order: another crate
            // in the build may turn on serde_json's `preserve_order`.
            let mut members: Vec<_> = members.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is the documented one; writing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).expect("a string serialises"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_recursively_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": null, "x": true}], "é": "\n\"q\"", "A": 0.8}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"A":0.8,"z":[3,{"x":true,"y":null}],"é":"\n\"q\""},"b":1}"#
        );
    }

    #[test]
    fn numbers_are_written_in_shortest_round_trip_form() {
        let v = json!([5321.7, 1e-7, 120, -3, 0.1 + 0.2, 1e300]);
        let text = canonical_json(&v);
        assert_eq!(text, "[5321.7,1e-7,120,-3,0.30000000000000004,1e+300]");
        // Reading it back gives the same canonical text.
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonical_json(&again), text);
    }

    #[test]
    fn control_characters_are_escaped_as_documented() {
        assert_eq!(canonical_json(&json!("\u{1}\t\\")), r#""\u0001\t\\""#);
    }
}
