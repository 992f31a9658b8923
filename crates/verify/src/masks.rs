//! Byte classes of 64 bytes at a time as bit masks (bit k: byte k), so that
//! the passes over every byte of a text (the last pass, the spoken-number
//! pass) read only the few places worth a closer look. SSE2 on x86-64, where
//! it is part of the baseline; a plain loop elsewhere, and in tests as the
//! reference.

/// `class` of the (at most) 64 bytes from `b[at]` on: bit k is `b[at + k]`,
/// and bits past the end of `b` are clear (`class` must not pick NUL).
/// Generic in `class`, so that each class is inlined where it is used.
#[inline]
pub(crate) fn chunk_mask(b: &[u8], at: usize, class: impl Fn(&[u8; 64]) -> u64) -> u64 {
    let chunk = |from: usize| class(b[from..from + 64].try_into().expect("64 bytes"));
    if at + 64 <= b.len() {
        chunk(at)
    } else if b.len() >= 64 {
        // The last 64 bytes, without those before `at`.
        chunk(b.len() - 64) >> (at + 64 - b.len())
    } else {
        let mut padded = [0u8; 64];
        padded[..b.len() - at].copy_from_slice(&b[at..]);
        class(&padded)
    }
}

/// Bit k is set where `chunk[k]` could join a run: a byte from the space
/// to '9', which holds the digits and the separators. The others in that
/// range (quotes, commas, a few more) cost a closer look now and then,
/// never a miss, and one range test is cheaper than four.
#[inline(always)]
pub(crate) fn could_join(chunk: &[u8; 64]) -> u64 {
    in_byte_range(chunk, b' ', b'9')
}

/// Bit k is set where `lo <= chunk[k] <= hi`.
/// Sixteen bytes at a time with SSE2, which every x86-64 processor has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn in_byte_range(chunk: &[u8; 64], lo: u8, hi: u8) -> u64 {
    use std::arch::x86_64::*;
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads the
    // 16 bytes at `chunk[k..k + 16]`, with k + 16 <= 64.
    unsafe {
        for k in (0..64).step_by(16) {
            let x = _mm_loadu_si128(chunk.as_ptr().add(k).cast::<__m128i>());
            mask |= u64::from(_mm_movemask_epi8(in_range(x, lo, hi)) as u16) << k;
        }
    }
    mask
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn equal(chunk: &[u8; 64], byte: u8) -> u64 {
    use std::arch::x86_64::*;
    let mut mask = 0u64;
    // SAFETY: as in `in_byte_range`.
    unsafe {
        let byte = _mm_set1_epi8(byte as i8);
        for k in (0..64).step_by(16) {
            let x = _mm_loadu_si128(chunk.as_ptr().add(k).cast::<__m128i>());
            mask |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(x, byte)) as u16) << k;
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn in_byte_range(chunk: &[u8; 64], lo: u8, hi: u8) -> u64 {
    bits(chunk, |c| (lo..=hi).contains(&c))
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn equal(chunk: &[u8; 64], byte: u8) -> u64 {
    bits(chunk, |c| c == byte)
}

/// Bit k is set where `is(chunk[k])`: the plain form of the masks above.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) fn bits(chunk: &[u8; 64], is: impl Fn(u8) -> bool) -> u64 {
    (chunk.iter().enumerate()).fold(0, |m, (k, &c)| m | u64::from(is(c)) << k)
}

/// Per byte, all ones where `lo <= x <= hi` (unsigned): moved so that the
/// range is the bottom of the signed range, then one signed compare.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn in_range(
    x: std::arch::x86_64::__m128i,
    lo: u8,
    hi: u8,
) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    let shifted = _mm_add_epi8(x, _mm_set1_epi8(0x80u8.wrapping_sub(lo) as i8));
    _mm_cmplt_epi8(
        shifted,
        _mm_set1_epi8((0x80 + u32::from(hi - lo) + 1) as u8 as i8),
    )
}

/// Sets bit `k % 64` of `quotes[k / 64]` for each quote `b[k]` (`quotes`
/// long enough for `b`; words past it are left alone), and says whether `b`
/// is free of backslashes and control bytes: a JSON line where every string
/// ends at the next quote. 64 bytes at a time with SSE2, in one pass.
#[cfg(target_arch = "x86_64")]
pub(crate) fn quotes_of_plain_json(b: &[u8], quotes: &mut [u64]) -> bool {
    use std::arch::x86_64::*;
    assert!(quotes.len() * 64 >= b.len(), "room for every byte");
    /// The quotes of 64 bytes, and the specials found so far.
    #[inline(always)]
    unsafe fn block(chunk: &[u8; 64], special: &mut __m128i) -> u64 {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let mut q = 0u64;
        for k in (0..64).step_by(16) {
            let x = _mm_loadu_si128(chunk.as_ptr().add(k).cast::<__m128i>());
            q |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) as u16) << k;
            let control = in_range(x, 0, 0x1f);
            *special = _mm_or_si128(
                *special,
                _mm_or_si128(control, _mm_cmpeq_epi8(x, backslash)),
            );
        }
        q
    }
    let whole = b.len() / 64;
    let rest = b.len() % 64;
    // SAFETY: SSE2 is part of the x86-64 baseline; each block reads the 64
    // bytes of a `[u8; 64]`.
    unsafe {
        let mut special = _mm_setzero_si128();
        for (word, chunk) in quotes.iter_mut().zip(b.chunks_exact(64)) {
            *word = block(chunk.try_into().expect("64 bytes"), &mut special);
        }
        if rest > 0 {
            quotes[whole] = if b.len() >= 64 {
                // The last 64 bytes, without those already read.
                let last = b[b.len() - 64..].try_into().expect("64 bytes");
                block(last, &mut special) >> (64 - rest)
            } else {
                // Padded with spaces: neither quotes nor specials.
                let mut padded = [b' '; 64];
                padded[..rest].copy_from_slice(b);
                block(&padded, &mut special)
            };
        }
        _mm_movemask_epi8(special) == 0
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn quotes_of_plain_json(b: &[u8], quotes: &mut [u64]) -> bool {
    quotes_of_plain_json_bytes(b, quotes)
}

/// The plain form of [`quotes_of_plain_json`].
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) fn quotes_of_plain_json_bytes(b: &[u8], quotes: &mut [u64]) -> bool {
    assert!(quotes.len() * 64 >= b.len(), "room for every byte");
    quotes
        .iter_mut()
        .take(b.len().div_ceil(64))
        .for_each(|w| *w = 0);
    let mut plain = true;
    for (k, &c) in b.iter().enumerate() {
        quotes[k / 64] |= u64::from(c == b'"') << (k % 64);
        plain &= c != b'\\' && c >= 0x20;
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every position, against the plain loop.
    #[test]
    fn masks_match_a_byte_loop() {
        for c in 0..=255u8 {
            for at in 0..64 {
                let mut chunk = [b'a'; 64];
                chunk[at] = c;
                chunk[63 - at] = b'0' + (at % 10) as u8;
                chunk[(at + 7) % 64] = b' ';
                let could = bits(&chunk, |c| (b' '..=b'9').contains(&c));
                assert_eq!(could_join(&chunk), could, "{c} at {at}");
                for byte in [b'"', b'\\', c] {
                    assert_eq!(
                        equal(&chunk, byte),
                        bits(&chunk, |c| c == byte),
                        "{c} at {at}"
                    );
                }
            }
        }
    }

    /// Every byte value at every position of lines of several lengths.
    #[test]
    fn quotes_of_plain_json_match_a_byte_loop() {
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 100, 130] {
            for at in 0..len {
                for c in 0..=255u8 {
                    let mut line = vec![b'a'; len];
                    line[at] = c;
                    line[(at * 7) % len] = b'"';
                    let mut quotes = [0u64; 3];
                    let plain = quotes_of_plain_json(&line, &mut quotes);
                    let mut want = [0u64; 3];
                    let plain_bytes = quotes_of_plain_json_bytes(&line, &mut want);
                    assert_eq!(quotes, want, "{c} at {at} of {len}");
                    assert_eq!(plain, plain_bytes, "{c} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn chunk_mask_clears_the_bits_past_the_end() {
        let text = b"one two 3 x four".repeat(9);
        for at in 0..text.len() {
            for end in at + 1..=text.len() {
                let b = &text[..end];
                let padded: Vec<u8> = b[at..].iter().copied().chain([0; 64]).take(64).collect();
                let want = bits(
                    padded.as_slice().try_into().unwrap(),
                    crate::scan::is_word_byte,
                );
                let word_bytes = |c: &[u8; 64]| bits(c, crate::scan::is_word_byte);
                assert_eq!(chunk_mask(b, at, word_bytes), want, "{at}..{end}");
            }
        }
    }
}
