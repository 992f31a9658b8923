//! Evidence text with customer PII at known places: the ground truth that
//! tests and benchmarks measure the PII detectors against.
//!
//! A text is one to three sentences in English, German, Spanish or French:
//! small talk, hard negatives (order numbers, timestamps, amounts, ZIP codes,
//! invalid card numbers, 9xx SSNs, bad-checksum IBANs, international numbers
//! outside their country's ranges, "two or three days",
//! ...) and PII (cards, SSNs, phones, emails, IBANs), written with digits in
//! the usual formats or, for numbers, spoken as words the way speech-to-text
//! engines render them ("four one one one", "oh", "double five").

use crate::cards;
use rand::seq::SliceRandom;
use rand::Rng;

/// One piece of PII the generator placed in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiTruth {
    /// `ssn`, `credit_card`, `email`, `phone` or `iban`.
    pub kind: &'static str,
    /// UTF-8 byte span of the PII in the text.
    pub start: usize,
    pub end: usize,
    /// Whether the number is written as words ("four one one one").
    pub spoken: bool,
}

/// One evidence value in agent or customer voice, and the PII it holds.
pub fn evidence_text<R: Rng>(rng: &mut R) -> (String, Vec<PiiTruth>) {
    let mut text = String::with_capacity(256);
    let mut truth = Vec::new();
    let sentences = rng.gen_range(1..=3);
    for i in 0..sentences {
        if i > 0 {
            text.push(' ');
        }
        match rng.gen_range(0..100) {
            0..=34 => text.push_str(SMALL_TALK.choose(rng).expect("phrases")),
            35..=64 => hard_negative(rng, &mut text),
            _ => pii_sentence(rng, &mut text, &mut truth),
        }
    }
    (text, truth)
}

const SMALL_TALK: &[&str] = &[
    "Thank you for calling, how can I help you today?",
    "One moment please, I'm pulling up your account.",
    "Could you give me one second?",
    "It should arrive in two or three days.",
    "I have two kids and one dog, so it's a busy house.",
    "Vielen Dank für Ihren Anruf, einen schönen Tag noch.",
    "Einen Moment bitte, ich schaue kurz nach.",
    "Gracias por llamar, ¿en qué puedo ayudarle?",
    "Merci de votre patience, je vérifie tout de suite.",
    "Oh, okay, that makes sense. 👍",
    "ありがとうございます、少々お待ちください。",
    "Is there anything else I can help you with?",
    "I'll transfer you to billing, one of my colleagues will pick up.",
];

/// Text that looks numeric or address-like but holds no PII.
fn hard_negative<R: Rng>(rng: &mut R, text: &mut String) {
    use std::fmt::Write;
    let d = |rng: &mut R, n: usize| digits(rng, n);
    let s = match rng.gen_range(0..23) {
        0 => format!("Your order number is {}.", rng.gen_range(100..99_999)),
        1 => format!("Order #A-{}-{}, shipped.", d(rng, 8), d(rng, 4)),
        2 => format!(
            "Logged at 2023-10-{:02}T13:{:02}:05.120Z by the system.",
            rng.gen_range(1..29),
            rng.gen_range(0..60)
        ),
        3 => format!(
            "Event timestamp {} in the log.",
            rng.gen_range(1_600_000_000_000u64..1_800_000_000_000)
        ),
        4 => format!("Tracking number 1Z{}A{}.", d(rng, 3), d(rng, 11)),
        5 => format!(
            "USPS tracking 9400 {} {} {} {} {}.",
            d(rng, 4),
            d(rng, 4),
            d(rng, 4),
            d(rng, 4),
            d(rng, 2)
        ),
        6 => format!(
            "The total is ${},{}.{} including tax.",
            rng.gen_range(1..9),
            d(rng, 3),
            d(rng, 2)
        ),
        7 => format!(
            "Der Betrag von {},{} EUR wurde am {:02}.{:02}.2023 gebucht.",
            rng.gen_range(10..9999),
            d(rng, 2),
            rng.gen_range(1..29),
            rng.gen_range(1..13)
        ),
        8 => format!("Ship to ZIP {}-{}, please.", d(rng, 5), d(rng, 4)),
        9 => format!(
            "You're on version 10.0.{}.{} of the app.",
            d(rng, 5),
            d(rng, 4)
        ),
        10 => {
            let (card, _) = cards::random_card(rng);
            format!(
                "The card ending {} was declined, number {} is not valid.",
                &card[card.len() - 4..],
                group(&break_luhn(&card), 4, ' ')
            )
        }
        11 => {
            let area = rng.gen_range(900..1000);
            format!(
                "That number {}-{}-{} is not a social security number.",
                area,
                d(rng, 2),
                d(rng, 4)
            )
        }
        12 => {
            let iban = iban(rng);
            format!("The IBAN {} has a typo.", group(&break_iban(&iban), 4, ' '))
        }
        13 => "Sure, extension four four seven one.".to_string(),
        14 => format!(
            "Reference INV-2023-{} on {}/{}/2023.",
            d(rng, 6),
            rng.gen_range(1..13),
            rng.gen_range(1..29)
        ),
        15 => format!(
            "The router is at 192.168.{}.{}.",
            rng.gen_range(0..255),
            rng.gen_range(1..255)
        ),
        16 => format!("Call (123) 555-{} is not a real area code.", d(rng, 4)),
        17 => "We can do that in one or two business days, okay?".to_string(),
        18 => {
            // A spoken card number with a bad check digit.
            let (card, _) = cards::random_card(rng);
            format!(
                "Um, was it {}? No, that's wrong.",
                spoken(rng, &break_luhn(&card), 4)
            )
        }
        19 => format!(
            // The right length for London, but no 020 2 numbers exist.
            "The old line +44 20 2{} {} is no longer in service.",
            d(rng, 3),
            d(rng, 4)
        ),
        21 => {
            // Luhn-valid, but under leading digits no card brand issues.
            let len = rng.gen_range(12..=19);
            let prefix = cards::UNISSUED.choose(rng).expect("prefixes");
            let n = cards::number_with_prefix(rng, prefix, len);
            format!("Your reference is {n}, keep it safe.")
        }
        22 => {
            // A real card number, grouped as no card is printed.
            let (card, _) = cards::random_card(rng);
            let groupings = cards::unprinted_groupings(card.len());
            let groups = groupings.choose(rng).expect("groupings");
            format!(
                "Parcel {} is on its way.",
                cards::grouped(&card, groups, ' ')
            )
        }
        _ => format!(
            "Ihre Kundennummer lautet {} und die PLZ ist {}.",
            d(rng, 7),
            d(rng, 5)
        ),
    };
    let _ = write!(text, "{s}");
}

/// A sentence holding one piece of PII, recorded in `truth`.
fn pii_sentence<R: Rng>(rng: &mut R, text: &mut String, truth: &mut Vec<PiiTruth>) {
    const CARD: &[&str] = &[
        "Sure, my card number is {}, thanks.",
        "Meine Kartennummer ist {}.",
        "Mi número de tarjeta es {}.",
        "Mon numéro de carte est le {}.",
        "Card on file: {}",
    ];
    const SSN: &[&str] = &[
        "My social is {}.",
        "For verification, SSN {} on the account.",
        "Yes, it's {}.",
    ];
    const PHONE: &[&str] = &[
        "You can reach me at {} after five.",
        "Sie erreichen mich unter {}.",
        "Puede llamarme al {}.",
        "Callback number: {}",
    ];
    const EMAIL: &[&str] = &[
        "Send it to {} please.",
        "Meine E-Mail ist {}.",
        "Mi correo es {}.",
        "Mon adresse e-mail est {}.",
        "email={}; consent=true",
    ];
    const IBAN: &[&str] = &[
        "The IBAN is {}.",
        "Meine IBAN lautet {}.",
        "Mon IBAN est {}, merci.",
        "Cuenta {} para el reembolso.",
    ];
    const SPOKEN: &[&str] = &[
        "Yeah it's {} okay?",
        "Okay so that's {}, got it.",
        "The number is {} thanks.",
        "Right, {} is what I have.",
    ];
    let kind = ["credit_card", "ssn", "phone", "email", "iban"]
        .choose(rng)
        .copied()
        .expect("kinds");
    let say = matches!(kind, "credit_card" | "ssn" | "phone") && rng.gen_bool(0.35);
    let (templates, value) = match kind {
        "credit_card" => {
            let (card, groups) = cards::random_card(rng);
            let value = if say {
                spoken(rng, &card, 4)
            } else {
                match rng.gen_range(0..4) {
                    0 => card,
                    k => cards::grouped(&card, groups, cards::SEPARATORS[k - 1]),
                }
            };
            (CARD, value)
        }
        "ssn" => {
            let ssn = ssn(rng);
            let value = if say {
                spoken(rng, &ssn, 3)
            } else {
                match rng.gen_range(0..3) {
                    0 => ssn,
                    1 => cards::grouped(&ssn, &[3, 2, 4], '-'),
                    _ => cards::grouped(&ssn, &[3, 2, 4], ' '),
                }
            };
            (SSN, value)
        }
        "phone" => {
            let value = if say {
                let n = nanp(rng);
                spoken(rng, &n, 3)
            } else if rng.gen_bool(0.3) {
                international(rng)
            } else {
                let n = nanp(rng);
                let (a, e, l) = (&n[..3], &n[3..6], &n[6..]);
                match rng.gen_range(0..5) {
                    0 => format!("({a}) {e}-{l}"),
                    1 => format!("{a}-{e}-{l}"),
                    2 => format!("{a}.{e}.{l}"),
                    3 => format!("+1 {a} {e} {l}"),
                    _ => format!("1-{a}-{e}-{l}"),
                }
            };
            (PHONE, value)
        }
        "email" => (EMAIL, email(rng)),
        _ => {
            let iban = iban(rng);
            let value = if rng.gen_bool(0.5) {
                group(&iban, 4, ' ')
            } else {
                iban
            };
            (IBAN, value)
        }
    };
    let template = if say { SPOKEN } else { templates }
        .choose(rng)
        .expect("templates");
    let (before, after) = template.split_once("{}").expect("a placeholder");
    text.push_str(before);
    let start = text.len();
    text.push_str(&value);
    truth.push(PiiTruth {
        kind,
        start,
        end: text.len(),
        spoken: say,
    });
    text.push_str(after);
}

fn digits<R: Rng>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The same number with its last digit changed: the Luhn check fails.
fn break_luhn(card: &str) -> String {
    let mut b = card.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = b'0' + (b[last] - b'0' + 1) % 10;
    String::from_utf8(b).expect("ascii")
}

fn ssn<R: Rng>(rng: &mut R) -> String {
    loop {
        let area = rng.gen_range(1..900);
        if area == 666 {
            continue;
        }
        let s = format!(
            "{area:03}{:02}{:04}",
            rng.gen_range(1..100),
            rng.gen_range(1..10_000)
        );
        if !["078051120", "219099999", "457555462", "123456789"].contains(&s.as_str())
            && !s.bytes().all(|b| b == s.as_bytes()[0])
        {
            return s;
        }
    }
}

/// A valid North American number: `[2-9]XX` area (not N11, 37X, 96X, N9X) and exchange.
fn nanp<R: Rng>(rng: &mut R) -> String {
    loop {
        let area = rng.gen_range(200..900);
        let exchange = rng.gen_range(200..1000);
        let bad = |c: u32| c % 100 == 11;
        if bad(area) || bad(exchange) || (370..380).contains(&area) || (area / 10) % 10 == 9 {
            continue;
        }
        if (960..970).contains(&area) {
            continue;
        }
        return format!("{area}{exchange}{}", digits(rng, 4));
    }
}

/// An international number as people write them.
fn international<R: Rng>(rng: &mut R) -> String {
    match rng.gen_range(0..6) {
        // Each in a range its country assigns (London 020 7, France 01 and
        // 03, Berlin 030, Madrid 91, Rome 06, Indian mobiles 9).
        0 => format!("+44 20 7{} {}", digits(rng, 3), digits(rng, 4)),
        1 => format!("+49 30 {}", digits(rng, 7)),
        2 => format!(
            "+33 {} {} {} {} {}",
            [1, 3][rng.gen_range(0..2)],
            digits(rng, 2),
            digits(rng, 2),
            digits(rng, 2),
            digits(rng, 2)
        ),
        3 => format!(
            "+34 91{} {} {}",
            digits(rng, 1),
            digits(rng, 3),
            digits(rng, 3)
        ),
        4 => format!("+39 06 {} {}", digits(rng, 4), digits(rng, 4)),
        _ => format!("+91 9{} {}", digits(rng, 4), digits(rng, 5)),
    }
}

fn email<R: Rng>(rng: &mut R) -> String {
    const NAMES: &[&str] = &[
        "jane",
        "john.doe",
        "m.mueller",
        "ana_garcia",
        "pierre-luc",
        "Kim",
        "o.brien",
    ];
    const DOMAINS: &[&str] = &[
        "gmail.com",
        "example.co.uk",
        "web.de",
        "orange.fr",
        "acme.io",
        "correo.es",
        "mail.example.org",
    ];
    let name = NAMES.choose(rng).expect("names");
    let num = if rng.gen_bool(0.4) {
        rng.gen_range(1..99).to_string()
    } else {
        String::new()
    };
    format!("{name}{num}@{}", DOMAINS.choose(rng).expect("domains"))
}

/// A valid IBAN of a common country, compact.
fn iban<R: Rng>(rng: &mut R) -> String {
    let letters = |rng: &mut R, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
            .collect()
    };
    let (country, bban) = match rng.gen_range(0..8) {
        0 => ("DE", digits(rng, 18)),
        1 => ("GB", format!("{}{}", letters(rng, 4), digits(rng, 14))),
        2 => ("FR", digits(rng, 23)),
        3 => ("ES", digits(rng, 20)),
        4 => ("IT", format!("{}{}", letters(rng, 1), digits(rng, 22))),
        5 => ("NL", format!("{}{}", letters(rng, 4), digits(rng, 10))),
        6 => ("CH", digits(rng, 17)),
        _ => ("PL", digits(rng, 24)),
    };
    let check = 98 - mod97(&format!("{bban}{country}00"));
    format!("{country}{check:02}{bban}")
}

fn mod97(s: &str) -> u32 {
    s.bytes().fold(0, |rem, c| match c {
        b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
        _ => (rem * 100 + u32::from(c - b'A') + 10) % 97,
    })
}

/// The same IBAN with its last digit changed: the mod-97 check fails.
fn break_iban(iban: &str) -> String {
    break_luhn(iban)
}

fn group(s: &str, n: usize, sep: char) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / n);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % n == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Digits as a speech-to-text engine writes them: mostly words, "oh" or
/// "zero" for 0, "double" for a pair, now and then a digit, with a comma
/// after every `pause` digits.
fn spoken<R: Rng>(rng: &mut R, number: &str, pause: usize) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let b = number.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if i > 0 {
            out.push_str(if i % pause == 0 { ", " } else { " " });
        }
        let d = usize::from(b[i] - b'0');
        let word = if d == 0 && rng.gen_bool(0.5) {
            "oh"
        } else {
            WORDS[d]
        };
        let pair = i + 1 < b.len() && b[i + 1] == b[i] && (i + 1) % pause != 0;
        if pair && rng.gen_bool(0.5) {
            out.push_str("double ");
            out.push_str(word);
            i += 2;
        } else if rng.gen_bool(0.1) {
            out.push(char::from(b[i]));
            i += 1;
        } else {
            out.push_str(word);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn truth_spans_lie_in_the_text() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let (text, truth) = evidence_text(&mut rng);
            for t in truth {
                assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
                assert!(t.start < t.end && t.end <= text.len());
            }
        }
    }

    #[test]
    fn generated_numbers_are_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..200 {
            let (card, _) = cards::random_card(&mut rng);
            assert_eq!(
                cards::luhn_digit(&card[..card.len() - 1]),
                card.chars().last().unwrap()
            );
            let iban = iban(&mut rng);
            let moved = format!("{}{}", &iban[4..], &iban[..4]);
            assert_eq!(mod97(&moved), 1, "{iban}");
        }
    }
}
