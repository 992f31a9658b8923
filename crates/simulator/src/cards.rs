//! The payment card space as the card schemes publish it, written for test
//! data: every brand's issuer (IIN) ranges, the lengths it issues, and the
//! groupings its cards are printed with. It is written from the published
//! sources, not from the detector in `compliance-verify`, so that a blind
//! spot of the detector is not a blind spot of the data that tests it.
//!
//! Sources:
//! - ISO/IEC 7812-1:2017 (major industry identifier, 6- and 8-digit IINs,
//!   numbers of 8 to 19 digits, Luhn check digit), as summarised in the
//!   public IIN table of Wikipedia's "Payment card number" article
//!   (<https://en.wikipedia.org/wiki/Payment_card_number>, "Issuer
//!   identification number (IIN)" table, retrieved 2024).
//! - Mastercard's 2-series announcement (222100-272099, from 2017).
//! - Discover Global Network's IIN ranges (6011, 644-649, 65, 622126-622925,
//!   and Diners Club International 300-305, 3095, 36, 38-39 on its network).
//! - JCB (3528-3589), UnionPay (62, 16 to 19 digits, printed 4-4-4-4 or,
//!   for 19 digits, 6-13), Mir (2200-2204), RuPay (60, 65, 81, 82, 508,
//!   353, 356), Troy (9792, 65), Elo's published BIN list, Verve (506099-
//!   506198, 507865-507964, 650002-650027), UATP (1, 15 digits, 4-5-6).
//! - Printed groupings: 4-4-4-4 for 16 digits, American Express 4-6-5,
//!   Diners Club 14-digit 4-6-4, 19-digit 4-4-4-4-3, 18-digit 4-4-4-4-2, the
//!   old 13-digit Visa 4-3-3-3, Maestro 12 and 13-digit 4-4-4 and 4-4-5.

use rand::seq::SliceRandom;
use rand::Rng;

/// One brand: where its numbers start, how long they are, how they are printed.
#[derive(Debug, Clone, Copy)]
pub struct CardBrand {
    pub name: &'static str,
    /// Inclusive IIN ranges as decimal prefixes of equal length ("2221", "2720").
    pub iins: &'static [(&'static str, &'static str)],
    /// Each length the brand issues with the groupings printed for it (the
    /// plain run of digits is always possible too).
    pub lengths: &'static [(usize, &'static [&'static [usize]])],
}

const G16: &[&[usize]] = &[&[4, 4, 4, 4]];
const G17: &[&[usize]] = &[&[4, 4, 4, 4, 1]];
const G18: &[&[usize]] = &[&[4, 4, 4, 4, 2]];
const G19: &[&[usize]] = &[&[4, 4, 4, 4, 3]];

/// The card brands. Ranges shared by two brands (65: Discover, RuPay and
/// Troy) are listed under each.
pub const BRANDS: &[CardBrand] = &[
    CardBrand {
        name: "Visa",
        iins: &[("4", "4")],
        lengths: &[(13, &[&[4, 3, 3, 3]]), (16, G16), (19, G19)],
    },
    CardBrand {
        name: "American Express",
        iins: &[("34", "34"), ("37", "37")],
        lengths: &[(15, &[&[4, 6, 5]])],
    },
    CardBrand {
        name: "Mastercard",
        iins: &[("51", "55"), ("2221", "2720")],
        lengths: &[(16, G16)],
    },
    CardBrand {
        name: "Diners Club International",
        iins: &[("36", "36"), ("300", "305")],
        lengths: &[
            (14, &[&[4, 6, 4]]),
            (15, &[&[4, 6, 5]]),
            (16, G16),
            (17, G17),
            (18, G18),
            (19, G19),
        ],
    },
    CardBrand {
        name: "Diners Club (Discover network)",
        iins: &[("3095", "3095"), ("38", "39")],
        lengths: &[(16, G16), (17, G17), (18, G18), (19, G19)],
    },
    CardBrand {
        name: "Discover",
        iins: &[
            ("6011", "6011"),
            ("644", "649"),
            ("65", "65"),
            ("622126", "622925"),
        ],
        lengths: &[(16, G16), (17, G17), (18, G18), (19, G19)],
    },
    CardBrand {
        name: "JCB",
        iins: &[("3528", "3589")],
        lengths: &[(16, G16), (17, G17), (18, G18), (19, G19)],
    },
    CardBrand {
        name: "UnionPay",
        iins: &[("62", "62")],
        lengths: &[
            (16, G16),
            (17, G17),
            (18, G18),
            (19, &[&[4, 4, 4, 4, 3], &[6, 13]]),
        ],
    },
    CardBrand {
        name: "Maestro",
        iins: &[
            ("5018", "5018"),
            ("5020", "5020"),
            ("5038", "5038"),
            ("5893", "5893"),
            ("6304", "6304"),
            ("6759", "6759"),
            ("6761", "6763"),
        ],
        lengths: &[
            (12, &[&[4, 4, 4]]),
            (13, &[&[4, 4, 5]]),
            (14, &[&[4, 4, 4, 2]]),
            (15, &[&[4, 4, 4, 3]]),
            (16, G16),
            (17, G17),
            (18, G18),
            (19, G19),
        ],
    },
    CardBrand {
        name: "RuPay",
        iins: &[
            ("60", "60"),
            ("65", "65"),
            ("81", "82"),
            ("508", "508"),
            ("353", "353"),
            ("356", "356"),
        ],
        lengths: &[(16, G16)],
    },
    CardBrand {
        name: "Mir",
        iins: &[("2200", "2204")],
        lengths: &[(16, G16), (17, G17), (18, G18), (19, G19)],
    },
    CardBrand {
        name: "Elo",
        iins: &[
            ("401178", "401179"),
            ("438935", "438935"),
            ("457631", "457632"),
            ("431274", "431274"),
            ("451416", "451416"),
            ("457393", "457393"),
            ("504175", "504175"),
            ("506699", "506778"),
            ("509000", "509999"),
            ("627780", "627780"),
            ("636297", "636297"),
            ("636368", "636368"),
            ("650031", "650033"),
            ("650035", "650051"),
            ("650405", "650439"),
            ("650485", "650538"),
            ("650541", "650598"),
            ("650700", "650718"),
            ("650720", "650727"),
            ("650901", "650978"),
            ("651652", "651679"),
            ("655000", "655019"),
            ("655021", "655058"),
        ],
        lengths: &[(16, G16)],
    },
    CardBrand {
        name: "Troy",
        iins: &[("9792", "9792"), ("65", "65")],
        lengths: &[(16, G16)],
    },
    CardBrand {
        name: "Verve",
        iins: &[
            ("506099", "506198"),
            ("507865", "507964"),
            ("650002", "650027"),
        ],
        lengths: &[(16, G16), (18, G18), (19, G19)],
    },
    CardBrand {
        name: "UATP",
        iins: &[("1", "1")],
        lengths: &[(15, &[&[4, 5, 6]])],
    },
];

/// Separators people and speech-to-text engines put between printed groups.
pub const SEPARATORS: [char; 3] = [' ', '-', '.'];

/// Leading digits no brand issues under (ISO/IEC 7812 major industry
/// identifiers 0, 7 and 9 outside Troy, and 8 outside RuPay): a Luhn-valid
/// number starting so is not a card.
pub const UNISSUED: &[&str] = &["0", "70", "75", "79", "90", "99", "84", "89"];

/// Groupings no card is printed with, for a number of `len` digits: in
/// threes, fives or pairs with a shorter last group. (Halves are no good
/// hard negatives: a 9- or 10-digit half may be an SSN or a phone number.)
pub fn unprinted_groupings(len: usize) -> Vec<Vec<usize>> {
    [3, 5, 2]
        .into_iter()
        .map(|size| {
            let mut groups = vec![size; len / size];
            if len % size > 0 {
                groups.push(len % size);
            }
            groups
        })
        .collect()
}

/// The check digit that makes `body` followed by it pass the Luhn check.
pub fn luhn_digit(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b - b'0');
            if i % 2 == 0 {
                let v = v * 2;
                if v > 9 {
                    v - 9
                } else {
                    v
                }
            } else {
                v
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// A Luhn-valid number of `len` digits starting with `prefix`, the rest random.
pub fn number_with_prefix<R: Rng>(rng: &mut R, prefix: &str, len: usize) -> String {
    let mut body = String::from(prefix);
    while body.len() < len - 1 {
        body.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
    let check = luhn_digit(&body);
    body.push(check);
    body
}

/// A prefix inside the IIN range `lo..=hi` (equal widths), drawn at random.
pub fn prefix_in<R: Rng>(rng: &mut R, (lo, hi): (&str, &str)) -> String {
    let (a, b): (u64, u64) = (lo.parse().expect("digits"), hi.parse().expect("digits"));
    format!("{:0width$}", rng.gen_range(a..=b), width = lo.len())
}

/// `number` cut into `groups` joined by `sep`.
pub fn grouped(number: &str, groups: &[usize], sep: char) -> String {
    let mut out = String::with_capacity(number.len() + groups.len());
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(&number[at..at + g]);
        at += g;
    }
    out
}

/// A random card of a random brand, range and length, with one of the
/// groupings it is printed with (or none: the plain run).
pub fn random_card<R: Rng>(rng: &mut R) -> (String, &'static [usize]) {
    let brand = BRANDS.choose(rng).expect("brands");
    let &range = brand.iins.choose(rng).expect("ranges");
    let &(len, groupings) = brand.lengths.choose(rng).expect("lengths");
    let prefix = prefix_in(rng, range);
    let number = number_with_prefix(rng, &prefix, len);
    (number, groupings.choose(rng).expect("groupings"))
}

/// One card number as written or said, and the brand that issues it.
#[derive(Debug, Clone)]
pub struct CardForm {
    pub brand: &'static str,
    /// The number's digits.
    pub digits: String,
    /// How it is written or said.
    pub text: String,
}

/// Every combination of brand, IIN range (at both ends and one point
/// between), length, printed grouping and separator, plus each number as a
/// plain run and said digit by digit.
pub fn every_form<R: Rng>(rng: &mut R) -> Vec<CardForm> {
    let mut out = Vec::new();
    for brand in BRANDS {
        for &range in brand.iins {
            let between = prefix_in(rng, range);
            for prefix in [range.0, range.1, &between] {
                for &(len, groupings) in brand.lengths {
                    let digits = number_with_prefix(rng, prefix, len);
                    let mut texts = vec![digits.clone(), said(&digits)];
                    for groups in groupings {
                        for sep in SEPARATORS {
                            texts.push(grouped(&digits, groups, sep));
                        }
                    }
                    out.extend(texts.into_iter().map(|text| CardForm {
                        brand: brand.name,
                        digits: digits.clone(),
                        text,
                    }));
                }
            }
        }
    }
    out
}

/// Digits said one by one, with a pause (a comma) after every four, as a
/// speech-to-text engine writes them.
pub fn said(number: &str) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let mut out = String::new();
    for (i, d) in number.bytes().enumerate() {
        if i > 0 {
            out.push_str(if i % 4 == 0 { ", " } else { " " });
        }
        out.push_str(WORDS[usize::from(d - b'0')]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for brand in BRANDS {
            for (lo, hi) in brand.iins {
                assert_eq!(lo.len(), hi.len(), "{}", brand.name);
                assert!(lo <= hi, "{}", brand.name);
            }
            for (len, groupings) in brand.lengths {
                assert!((12..=19).contains(len), "{}", brand.name);
                for g in *groupings {
                    assert_eq!(g.iter().sum::<usize>(), *len, "{} {g:?}", brand.name);
                }
            }
        }
    }

    #[test]
    fn luhn_digit_of_published_test_numbers() {
        // Test numbers the networks publish for their sandboxes.
        for n in [
            "4111111111111111",
            "378282246310005",
            "5555555555554444",
            "30569309025904",
        ] {
            assert_eq!(luhn_digit(&n[..n.len() - 1]), n.chars().last().unwrap());
        }
    }
}
