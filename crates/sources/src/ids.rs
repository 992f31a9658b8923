//! Violation ids for sources that have none: a UUID v5 of the fields that
//! make a finding unique (spec genesys-real-apis.md §8.2), so that a rerun, a
//! resume and `serve`'s look-back derive the same id for the same finding and
//! recognise what they already wrote.

use uuid::Uuid;

/// The namespace of every id this program derives: the UUID v5 of the
/// project's name in the URL namespace. Changing it would change every id.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:genesys-compliance:violation")
}

/// The id of a finding named by `parts` (joined with `/`, each part free of
/// `/` in practice: ids, timestamps and numbers), under `source`.
pub fn derive(source: &str, parts: &[&str]) -> String {
    let mut name = String::from(source);
    for p in parts {
        name.push('/');
        name.push_str(p);
    }
    Uuid::new_v5(&namespace(), name.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_5_stable_and_distinct() {
        let a = derive("speech-analytics", &["c1", "m1", "cat", "t1", "3"]);
        assert_eq!(
            a,
            derive("speech-analytics", &["c1", "m1", "cat", "t1", "3"])
        );
        let parsed = Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
        assert_ne!(
            a,
            derive("speech-analytics", &["c1", "m1", "cat", "t1", "4"])
        );
        assert_ne!(a, derive("evaluations", &["c1", "m1", "cat", "t1", "3"]));
        // Computed independently with Python's uuid module (RFC 4122 v5):
        // uuid5(NAMESPACE_URL, "urn:genesys-compliance:violation"), then
        // uuid5(that, "speech-analytics/c1/m1/cat/t1/3").
        assert_eq!(
            namespace().to_string(),
            "ea20e669-3bec-51ba-9c5b-3fb59a8f6900"
        );
        assert_eq!(a, "795cfc71-68b2-50e2-b1bc-98c108303350");
    }
}
