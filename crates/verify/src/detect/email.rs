//! Email addresses whose domain ends in a real public suffix.

/// Whether `domain` (ASCII letters, digits, dots and hyphens) is a hostname
/// under a suffix of the public-suffix list, with at least one label of its
/// own ("example.com", "mail.example.co.uk"; not "example.invalid", "com").
pub fn is_mail_domain(domain: &[u8]) -> bool {
    if domain.len() > 253 || domain.is_empty() {
        return false;
    }
    let labels_ok = domain
        .split(|b| *b == b'.')
        .all(|l| !l.is_empty() && l.len() <= 63 && l[0] != b'-' && l[l.len() - 1] != b'-');
    if !labels_ok {
        return false;
    }
    // The list is lower case; domains are not case sensitive.
    let mut lower = [0u8; 253];
    let lower = &mut lower[..domain.len()];
    lower.copy_from_slice(domain);
    lower.make_ascii_lowercase();
    matches!(psl::domain(lower), Some(d) if d.suffix().is_known())
}

/// Characters allowed in the local part (the RFC 5322 dot-atom subset people use).
pub fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Characters allowed in the domain part.
pub fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_suffixes_only() {
        for ok in [
            "presidio.site",
            "example.com",
            "mail.example.co.uk",
            "xn--d1acufc.xn--p1ai",
            "EXAMPLE.DE",
        ] {
            assert!(is_mail_domain(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "example.invalidtld",
            "com",
            "co.uk",
            "-a.com",
            "a..com",
            "a.com.",
            "",
        ] {
            assert!(!is_mail_domain(bad.as_bytes()), "{bad}");
        }
    }
}
