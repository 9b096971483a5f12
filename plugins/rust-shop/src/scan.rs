//! Just enough JSON reading for the demo shop's small, fixed responses: find `"key": value` pairs by
//! scanning text. Not a JSON parser: it does not handle escaped quotes inside strings and does not care
//! about nesting, which the demo's responses never need.

/// Every place in `text` where `"key"` is followed by `:`, as the text after the colon (whitespace
/// skipped).
fn values_of<'a>(text: &'a str, key: &str) -> impl Iterator<Item = &'a str> {
    let needle = format!("\"{key}\"");
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let at = rest.find(&needle)?;
            rest = &rest[at + needle.len()..];
            if let Some(value) = rest.trim_start().strip_prefix(':') {
                return Some(value.trim_start());
            }
        }
    })
}

/// The first string value of `key`.
pub fn string_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    values_of(text, key).find_map(|v| {
        let v = v.strip_prefix('"')?;
        Some(&v[..v.find('"')?])
    })
}

/// Every unsigned integer value of `key`, in order.
pub fn number_fields(text: &str, key: &str) -> Vec<u64> {
    values_of(text, key)
        .filter_map(|v| {
            let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
            v[..end].parse().ok()
        })
        .collect()
}

/// Whether the first value of `key` is an array with at least one element.
pub fn array_is_non_empty(text: &str, key: &str) -> bool {
    values_of(text, key)
        .next()
        .and_then(|v| v.strip_prefix('['))
        .is_some_and(|inside| !inside.trim_start().starts_with(']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_demo_shapes() {
        assert_eq!(
            string_field(r#"{"token" : "ab-12"}"#, "token"),
            Some("ab-12")
        );
        assert_eq!(string_field(r#"{"user":"token","token":7}"#, "token"), None);
        let list = r#"[{"id":1,"name":"a","price_cents":250},{"id": 20,"name":"b"}]"#;
        assert_eq!(number_fields(list, "id"), [1, 20]);
        assert_eq!(
            number_fields(r#"{"items":[{"product_id":3,"quantity":1}]}"#, "id"),
            Vec::<u64>::new()
        );
        assert!(array_is_non_empty(
            r#"{"items":[{"product_id":3}],"total_cents":100}"#,
            "items"
        ));
        assert!(!array_is_non_empty(
            r#"{"items": [ ],"total_cents":0}"#,
            "items"
        ));
        assert!(!array_is_non_empty(r#"{"total_cents":0}"#, "items"));
    }
}
