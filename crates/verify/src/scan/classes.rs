//! What the passes of the scanner need to know of each byte, read once for
//! all of them, 64 bytes at a time: whether it belongs to a word, whether it
//! is a digit, whether it is an `@`. The spoken pass reads the words; the
//! written pass jumps from digit group to digit group, and the email pass
//! from `@` to `@`, instead of searching the text again.

/// The classes of (at most) 64 bytes, bit k for byte k of the chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Classes {
    /// Bytes of words, as [`super::is_word_byte`] says.
    pub word: u64,
    /// ASCII digits.
    pub digits: u64,
    /// `@`.
    pub at: u64,
}

impl Classes {
    /// The classes of every 64 bytes of `b`, in order, into `out` (cleared
    /// first).
    pub fn of_text(b: &[u8], out: &mut Vec<Classes>) {
        out.clear();
        let mut chunks = b.chunks_exact(64);
        for chunk in &mut chunks {
            out.push(classes(chunk.try_into().expect("64 bytes")));
        }
        let rest = chunks.remainder().len();
        if rest > 0 {
            out.push(Classes::at(b, b.len() - rest));
        }
    }

    /// The classes of the bytes from `b[at]` on; bits past the end of `b`
    /// are clear.
    #[inline]
    pub fn at(b: &[u8], at: usize) -> Self {
        let chunk = |from: usize| classes(b[from..from + 64].try_into().expect("64 bytes"));
        if at + 64 <= b.len() {
            chunk(at)
        } else if b.len() >= 64 {
            // The last 64 bytes, without those before `at`.
            let shift = at + 64 - b.len();
            let c = chunk(b.len() - 64);
            Classes {
                word: c.word >> shift,
                digits: c.digits >> shift,
                at: c.at >> shift,
            }
        } else {
            // Padded with NUL, which is in no class.
            let mut padded = [0u8; 64];
            padded[..b.len() - at].copy_from_slice(&b[at..]);
            classes(&padded)
        }
    }
}

/// The classes of a chunk, each 16 bytes loaded once (SSE2, part of the
/// x86-64 baseline). Inlined, so that its constants are set up once per
/// text rather than once per chunk.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classes(chunk: &[u8; 64]) -> Classes {
    use crate::masks::in_range;
    use std::arch::x86_64::*;
    let mut c = Classes::default();
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads the
    // 16 bytes at `chunk[k..k + 16]`, with k + 16 <= 64.
    unsafe {
        let lower = _mm_set1_epi8(0x20);
        let underscore = _mm_set1_epi8(b'_' as i8);
        let at = _mm_set1_epi8(b'@' as i8);
        for block in 0..4 {
            let k = 16 * block;
            let x = _mm_loadu_si128(chunk.as_ptr().add(k).cast::<__m128i>());
            // `c | 0x20` is a lowercase letter exactly where `c` is a letter.
            let l = _mm_or_si128(x, lower);
            let digit = in_range(x, b'0', b'9');
            let letter = in_range(l, b'a', b'z');
            let word = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(x, underscore));
            // The high bit of each byte: non-ASCII, part of a word.
            let word = (_mm_movemask_epi8(word) | _mm_movemask_epi8(x)) as u16;
            c.word |= u64::from(word) << k;
            c.digits |= u64::from(_mm_movemask_epi8(digit) as u16) << k;
            c.at |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(x, at)) as u16) << k;
        }
    }
    c
}

#[cfg(not(target_arch = "x86_64"))]
fn classes(chunk: &[u8; 64]) -> Classes {
    classes_plain(chunk)
}

/// The classes byte by byte: the reference for [`classes`].
#[cfg(any(test, not(target_arch = "x86_64")))]
fn classes_plain(chunk: &[u8; 64]) -> Classes {
    use crate::masks::bits;
    Classes {
        word: bits(chunk, super::is_word_byte),
        digits: bits(chunk, |c| c.is_ascii_digit()),
        at: bits(chunk, |c| c == b'@'),
    }
}

/// The positions of the bytes of one class, in order: `class` picks it
/// out of each chunk's [`Classes`].
pub(super) fn positions<'a>(
    chunks: &'a [Classes],
    class: impl Fn(&Classes) -> u64 + 'a,
) -> impl Iterator<Item = usize> + 'a {
    chunks.iter().enumerate().flat_map(move |(k, c)| {
        let mut m = class(c);
        std::iter::from_fn(move || {
            (m != 0).then(|| {
                let bit = m.trailing_zeros() as usize;
                m &= m - 1;
                k * 64 + bit
            })
        })
    })
}

/// The digits of a text, one bit each, 64 to a chunk: where digit groups
/// start and end, found without reading the text again.
#[derive(Debug, Clone, Copy)]
pub(super) struct DigitBits<'a>(pub &'a [Classes]);

impl DigitBits<'_> {
    /// The first digit at or after `from`.
    #[inline]
    pub fn next(self, from: usize) -> Option<usize> {
        let mut chunk = from / 64;
        let mut m = self.0.get(chunk)?.digits & (u64::MAX << (from % 64));
        while m == 0 {
            chunk += 1;
            m = self.0.get(chunk)?.digits;
        }
        Some(chunk * 64 + m.trailing_zeros() as usize)
    }

    /// The end of the digits from `from` on: the first byte at or after
    /// `from` that is no digit (or the end of the text).
    #[inline]
    pub fn run_end(self, from: usize) -> usize {
        let mut at = from;
        loop {
            let Some(word) = self.0.get(at / 64).map(|c| c.digits) else {
                return at;
            };
            let ones = (!(word >> (at % 64))).trailing_zeros() as usize;
            // Within the word: the run ends there; else on to the next word.
            if at % 64 + ones < 64 {
                return at + ones;
            }
            at += ones;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every byte value at every position, against the byte loop.
    #[test]
    fn classes_match_a_byte_loop() {
        for c in 0..=255u8 {
            for at in 0..64 {
                let mut chunk = [b'o'; 64];
                chunk[at] = c;
                chunk[63 - at] = b'0' + (at % 10) as u8;
                chunk[(at + 7) % 64] = b' ';
                assert_eq!(classes(&chunk), classes_plain(&chunk), "{c} at {at}");
            }
        }
    }

    /// Texts of digits and other bytes, of lengths across the 64-byte words.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            3 => "[0-9]{1,70}",
            3 => "[ a-z.@\\-]{1,9}",
            1 => "[é😀_Z]{1,3}",
        ];
        proptest::collection::vec(piece, 0..30).prop_map(|p| p.concat().into_bytes())
    }

    fn chunks(b: &[u8]) -> Vec<Classes> {
        let mut chunks = Vec::new();
        Classes::of_text(b, &mut chunks);
        chunks
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The classes of any chunk of any text, end included, equal the
        /// byte loop over it padded with NUL.
        #[test]
        fn classes_at_any_place_match_the_bytes(b in text(), at in 0..2000usize) {
            let at = at % (b.len() + 1);
            if at < b.len() {
                let padded: Vec<u8> = b[at..].iter().copied().chain([0; 64]).take(64).collect();
                let want = classes_plain(padded.as_slice().try_into().unwrap());
                prop_assert_eq!(Classes::at(&b, at), want);
            }
        }

        /// `next` and `run_end` say what a search byte by byte says, from
        /// every place of the text.
        #[test]
        fn digit_jumps_equal_a_byte_search(b in text()) {
            let chunks = chunks(&b);
            let d = DigitBits(&chunks);
            for from in 0..=b.len() {
                let next = b[from..].iter().position(u8::is_ascii_digit).map(|k| from + k);
                prop_assert_eq!(d.next(from), next, "from {}", from);
                let end = b[from..].iter().position(|c| !c.is_ascii_digit()).map_or(b.len(), |k| from + k);
                prop_assert_eq!(d.run_end(from), end, "from {}", from);
            }
            let ats: Vec<usize> = positions(&chunks, |c| c.at).collect();
            let want: Vec<usize> = (0..b.len()).filter(|&k| b[k] == b'@').collect();
            prop_assert_eq!(ats, want);
        }
    }
}
