//! Every format each PII type's standard allows, enumerated, and hard
//! negatives for each: the detector must find every one with its exact span,
//! and the redactor must leave none of its characters. The tables here are
//! written from the standards (cited at each), never from the detector's:
//! cards from the simulator's published card table
//! (`compliance_simulator::cards`), the rest below.

use compliance_simulator::cards::{self, BRANDS, SEPARATORS, UNISSUED};
use compliance_verify::{redact, scan, PiiType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BEFORE: &str = "Sure, it is ";
const AFTER: &str = " thanks.";

/// Asserts that `value`, said in a sentence, is found as one `kind` finding
/// covering exactly it, and that redaction leaves none of it. Returns a
/// description of the failure instead of panicking, so that one run lists
/// every miss.
fn check_found(kind: PiiType, value: &str) -> Result<(), String> {
    let text = format!("{BEFORE}{value}{AFTER}");
    let found: Vec<_> = scan(&text)
        .into_iter()
        .map(|f| (f.kind, &text[f.start..f.end]))
        .collect();
    if found != [(kind, value)] {
        return Err(format!("{kind} {value:?}: found {found:?}"));
    }
    let redacted = redact(&text, &scan(&text));
    let expected = format!("{BEFORE}{}{AFTER}", kind.marker());
    if redacted != expected {
        return Err(format!("{kind} {value:?}: redacted to {redacted:?}"));
    }
    Ok(())
}

/// Asserts that nothing is found in `value`, said in a sentence.
fn check_nothing(value: &str) -> Result<(), String> {
    let text = format!("{BEFORE}{value}{AFTER}");
    let found: Vec<_> = scan(&text)
        .into_iter()
        .map(|f| (f.kind, text[f.start..f.end].to_string()))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!("hard negative {value:?}: found {found:?}"))
    }
}

/// Fails listing every error, with how many cases ran.
fn report(what: &str, cases: usize, errors: Vec<String>) {
    assert!(
        errors.is_empty(),
        "{what}: {} of {cases} cases failed:\n{}",
        errors.len(),
        errors
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("{what}: {cases} cases");
}

#[test]
fn every_brand_length_grouping_and_separator_is_a_card() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let forms = cards::every_form(&mut rng);
    let errors = forms
        .iter()
        .filter_map(|f| check_found(PiiType::CreditCard, &f.text).err())
        .collect();
    report("cards", forms.len(), errors);
}

#[test]
fn card_hard_negatives_find_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let (mut cases, mut errors) = (0, Vec::new());
    // Luhn-valid, of every length, under leading digits no brand issues.
    for prefix in UNISSUED {
        for len in 12..=19 {
            let n = cards::number_with_prefix(&mut rng, prefix, len);
            for form in [n.clone(), cards::grouped(&n, &fours(len), ' ')] {
                cases += 1;
                errors.extend(check_nothing(&form).err());
            }
        }
    }
    for brand in BRANDS {
        for &range in brand.iins {
            let prefix = cards::prefix_in(&mut rng, range);
            for &(len, groupings) in brand.lengths {
                let card = cards::number_with_prefix(&mut rng, &prefix, len);
                // A real card grouped as no card is printed.
                for groups in cards::unprinted_groupings(len) {
                    for sep in SEPARATORS {
                        cases += 1;
                        errors.extend(check_nothing(&cards::grouped(&card, &groups, sep)).err());
                    }
                }
                // The right shape with a wrong check digit, written and said.
                let bad = break_last(&card);
                for form in [
                    bad.clone(),
                    cards::grouped(&bad, groupings[0], ' '),
                    cards::said(&bad),
                ] {
                    cases += 1;
                    errors.extend(check_nothing(&form).err());
                }
                // Separators mixed within one number.
                if groupings[0].len() >= 3 {
                    let mixed = cards::grouped(&card, groupings[0], ' ').replacen(' ', "-", 1);
                    cases += 1;
                    errors.extend(check_nothing(&mixed).err());
                }
            }
        }
    }
    // Lengths outside ISO/IEC 7812's card lengths for the brand: a 14- or
    // 17-digit Visa, an 11- and a 20-digit run.
    for (prefix, len) in [
        ("4", 14),
        ("4", 17),
        ("51", 15),
        ("34", 16),
        ("5018", 11),
        ("4", 20),
    ] {
        let n = cards::number_with_prefix(&mut rng, prefix, len);
        cases += 1;
        errors.extend(check_nothing(&n).err());
    }
    report("card hard negatives", cases, errors);
}

fn fours(len: usize) -> Vec<usize> {
    let mut g = vec![4; len / 4];
    if len % 4 > 0 {
        g.push(len % 4);
    }
    g
}

fn break_last(number: &str) -> String {
    let mut b = number.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = b'0' + (b[last] - b'0' + 1) % 10;
    String::from_utf8(b).expect("ascii")
}

/// US social security numbers: SSA's rules (area 001-899 except 666, group
/// 01-99, serial 0001-9999; POMS RM 10201.045), written 3-2-4 with hyphens,
/// spaces or dots, as one run, or said digit by digit.
#[test]
fn every_ssn_form_is_an_ssn() {
    let (mut cases, mut errors) = (0, Vec::new());
    for (area, group, serial) in [
        ("001", "01", "0001"),
        ("536", "22", "1234"),
        ("665", "99", "9999"),
        ("667", "10", "0420"),
        ("899", "45", "6789"),
        ("772", "08", "3301"),
    ] {
        let plain = format!("{area}{group}{serial}");
        let mut forms = vec![plain.clone(), cards::said(&plain)];
        for sep in ['-', ' ', '.'] {
            forms.push(format!("{area}{sep}{group}{sep}{serial}"));
        }
        for form in forms {
            cases += 1;
            errors.extend(check_found(PiiType::Ssn, &form).err());
        }
    }
    for bad in [
        "000-12-3456", // area 000 is never issued
        "666-12-3456", // nor 666
        "900-12-3456", // nor 900-999 (ITINs and the like)
        "999-12-3456",
        "536-00-1234", // group 00
        "536-22-0000", // serial 0000
        "536-221-234", // not grouped 3-2-4
        "53-622-1234",
        "536-22 1234", // separators mixed
    ] {
        cases += 1;
        errors.extend(check_nothing(bad).err());
    }
    report("ssn", cases, errors);
}

/// The SWIFT IBAN registry (Release 99, 2024): every country and its IBAN
/// length.
const IBAN_REGISTRY: &str = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 \
    CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 \
    GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 \
    LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 \
    QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 \
    VA22 VG24 XK20 YE30";

/// ISO 13616 check digits for `country` and `bban`.
fn iban_with(country: &str, bban: &str) -> String {
    let moved = format!("{bban}{country}00");
    let rem = moved.bytes().fold(0u32, |rem, c| match c {
        b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
        _ => (rem * 100 + u32::from(c - b'A') + 10) % 97,
    });
    format!("{country}{:02}{bban}", 98 - rem)
}

#[test]
fn every_registry_country_and_length_is_an_iban() {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let (mut cases, mut errors) = (0, Vec::new());
    for entry in IBAN_REGISTRY.split_whitespace() {
        let (country, len) = entry.split_at(2);
        let len: usize = len.parse().expect("a length");
        let digits: String = (0..len - 4)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect();
        // Many BBANs start with a bank code in capitals (GB, NL, ...).
        let letters = format!("ABCD{}", &digits[4..]);
        for bban in [digits, letters] {
            let iban = iban_with(country, &bban);
            let spaced = cards::grouped(&iban, &fours(len), ' ');
            for form in [iban.clone(), spaced] {
                cases += 1;
                errors.extend(check_found(PiiType::Iban, &form).err());
            }
            cases += 2;
            errors.extend(check_nothing(&break_last(&iban)).err());
            // One character short of the country's length.
            errors.extend(check_nothing(&iban_with(country, &bban[1..])).err());
        }
    }
    report("iban", cases, errors);
}

/// E-mail addresses in RFC 5322's dot-atom form, the subset people use:
/// letters, digits, `.`, `_`, `-`, `+` and `%` in the local part; domains of
/// one or more labels under a public suffix (RFC 1035 labels, IDNA
/// punycode included).
#[test]
fn every_common_email_form_is_an_email() {
    let (mut cases, mut errors) = (0, Vec::new());
    let locals = [
        "jane",
        "Jane.Doe",
        "jane_doe",
        "jane-doe",
        "jane+billing",
        "j.d.99",
        "x",
        "JANE",
        "1234",
        "first.last+tag",
        "user%host",
    ];
    let domains = [
        "example.com",
        "mail.example.co.uk",
        "sub-domain.example.org",
        "example.de",
        "xn--bcher-kva.example.com",
        "a.b.c.example.net",
        "example.io",
        "123.example.com",
    ];
    for local in locals {
        for domain in domains {
            cases += 1;
            errors.extend(check_found(PiiType::Email, &format!("{local}@{domain}")).err());
        }
    }
    for bad in [
        "jane@example",            // no top-level domain
        "jane@example.invalidtld", // not a public suffix
        "jane@-example.com",       // a label may not start with a hyphen
        "jane@",
        "@example.com",
    ] {
        cases += 1;
        errors.extend(check_nothing(bad).err());
    }
    report("email", cases, errors);
}

/// Telephone numbers: NANP in each of its usual national formats (ATIS
/// 0300115; 555-01XX is the range set aside for fiction, but valid), and
/// E.164 numbers (ITU-T E.164: `+`, country code, national number) in
/// ranges their national plans assign (Ofcom's drama numbers for the UK,
/// ACMA's for Australia), compact and grouped.
#[test]
fn every_phone_format_is_a_phone() {
    let (mut cases, mut errors) = (0, Vec::new());
    for form in [
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "415 555 0132",
        "4155550132",
        "1-415-555-0132",
        "1 415 555 0132",
        "1 (415) 555-0132",
        "+1 415 555 0132",
        "+1 (415) 555-0132",
        "+14155550132",
        "+1-415-555-0132",
        "+44 20 7946 0958",
        "+442079460958",
        "+44 7700 900123",
        "+61 2 5550 1234",
        "+49 30 12345678",
        "+33 1 42 68 53 00",
        "+39 06 6784 3430",
        "+34 912 345 678",
        "+91 98123 45678",
        "+81 3 1234 5678",
        "+55 11 91234 5678",
    ] {
        cases += 1;
        errors.extend(check_found(PiiType::Phone, form).err());
    }
    cases += 1;
    errors.extend(check_found(PiiType::Phone, &cards::said("4155550132")).err());
    for bad in [
        "(123) 555-0100",   // area codes never start with 0 or 1
        "415-155-0132",     // nor exchanges
        "911-555-0132",     // N11 service codes
        "415-555-013",      // a digit short
        "+44 20 2123 4567", // London has no 020 2 numbers
        "+999 1234 5678",   // no such country code
    ] {
        cases += 1;
        errors.extend(check_nothing(bad).err());
    }
    report("phone", cases, errors);
}
