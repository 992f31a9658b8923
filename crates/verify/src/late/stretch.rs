//! Where the last pass must look closer: stretches of [`LEN`] bytes that
//! could all join a run, found 64 bytes at a time, and the digits and
//! separators of 64 bytes as bit masks (bit k: byte k).
//!
//! Finding stretches is the part of the last pass that reads every byte
//! of every record; where the processor has AVX2 (tested once, at run
//! time), it reads 32 bytes per instruction instead of 16. The SSE2 form
//! stays the reference it is tested against.

use super::LEN;
use crate::masks::{chunk_mask, could_join};

/// How [`long_stretch`] is made here: with AVX2 where the processor has it.
#[derive(Clone, Copy)]
pub(super) struct Stretches {
    avx2: bool,
}

impl Stretches {
    /// Asks the processor once per process: three feature tests cost more
    /// than one load, and the pass is made once or twice per record.
    pub(super) fn new() -> Stretches {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let avx2 = *AVX2.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            return std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("lzcnt");
            #[cfg(not(target_arch = "x86_64"))]
            false
        });
        Stretches { avx2 }
    }

    /// [`long_stretch`].
    #[inline]
    pub(super) fn find(self, b: &[u8], from: usize) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the processor has the features the function is built for.
            return unsafe { long_stretch_avx2(b, from) };
        }
        long_stretch_plain(b, from)
    }

    /// [`digits`] and [`separators`] of the (at most) 64 bytes from `b[at]`,
    /// as [`chunk_mask`] gives them: bits past the end of `b` are clear.
    #[inline]
    pub(super) fn digits_and_separators(self, b: &[u8], at: usize) -> (u64, u64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the processor has AVX2.
            return unsafe { digits_and_separators_avx2(b, at) };
        }
        (chunk_mask(b, at, digits), chunk_mask(b, at, separators))
    }
}

/// [`Stretches::digits_and_separators`] with AVX2: one load per 32 bytes
/// for both masks.
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn digits_and_separators_avx2(b: &[u8], at: usize) -> (u64, u64) {
    use std::arch::x86_64::*;
    let mut padded = [0u8; 64];
    // The 64 bytes read, and how far their masks are shifted down so that
    // bit 0 is `b[at]`, as in `chunk_mask`.
    let (chunk, shift): (&[u8; 64], usize) = if at + 64 <= b.len() {
        (b[at..at + 64].try_into().expect("64 bytes"), 0)
    } else if b.len() >= 64 {
        let from = b.len() - 64;
        (b[from..].try_into().expect("64 bytes"), at - from)
    } else {
        padded[..b.len() - at].copy_from_slice(&b[at..]);
        (&padded, 0)
    };
    let shift_digits = _mm256_set1_epi8((0x80 - 0x30) as i8);
    let last_digit = _mm256_set1_epi8((b'9' + 0x80 - 0x30) as i8);
    let (space, hyphen, dot) = (
        _mm256_set1_epi8(b' ' as i8),
        _mm256_set1_epi8(b'-' as i8),
        _mm256_set1_epi8(b'.' as i8),
    );
    let (mut above, mut sep) = (0u64, 0u64);
    for k in [0, 32] {
        // SAFETY: the load reads chunk[k..k + 32], with k + 32 <= 64.
        let x = unsafe { _mm256_loadu_si256(chunk.as_ptr().add(k).cast::<__m256i>()) };
        let out = _mm256_cmpgt_epi8(_mm256_add_epi8(x, shift_digits), last_digit);
        let any = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(x, space), _mm256_cmpeq_epi8(x, hyphen)),
            _mm256_cmpeq_epi8(x, dot),
        );
        above |= u64::from(_mm256_movemask_epi8(out) as u32) << k;
        sep |= u64::from(_mm256_movemask_epi8(any) as u32) << k;
    }
    // NUL padding is neither; the bits shifted in are clear.
    (!above >> shift, sep >> shift)
}

/// Where the first stretch of [`LEN`] bytes that [`could_join`] starts, at
/// or after `from`: `from` itself or a byte after one that cannot join. A
/// run of 12 digits lies in such a stretch, and most lines hold none.
#[cfg(test)]
fn long_stretch(b: &[u8], from: usize) -> Option<usize> {
    Stretches::new().find(b, from)
}

/// [`long_stretch`] with the baseline's instructions.
fn long_stretch_plain(b: &[u8], from: usize) -> Option<usize> {
    let (mut at, mut carried) = (from, 0);
    while at < b.len() {
        if let Some(start) = stretch_at(chunk_mask(b, at, could_join), at, &mut carried) {
            return Some(start);
        }
        at += 64;
    }
    None
}

/// [`long_stretch`] with AVX2 (and the one-instruction bit counts of BMI1
/// and LZCNT).
///
/// # Safety
/// The processor must have AVX2, BMI1 and LZCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,lzcnt")]
unsafe fn long_stretch_avx2(b: &[u8], from: usize) -> Option<usize> {
    use std::arch::x86_64::*;
    // Moved so that b' '..=b'9' is the bottom of the signed range, as in
    // `could_join`.
    let shift = _mm256_set1_epi8((0x80 - 0x20) as i8);
    let last = _mm256_set1_epi8((b'9' + 0x80 - 0x20) as i8);
    // The last chunk, padded with NULs, which cannot join.
    let mut padded = [0u8; 64];
    let (mut at, mut carried) = (from, 0);
    while at < b.len() {
        let chunk: &[u8; 64] = match b.get(at..at + 64) {
            Some(chunk) => chunk.try_into().expect("64 bytes"),
            None => {
                padded[..b.len() - at].copy_from_slice(&b[at..]);
                &padded
            }
        };
        // SAFETY: the loads read chunk[0..32] and chunk[32..64].
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(chunk.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(chunk.as_ptr().add(32).cast::<__m256i>()),
            )
        };
        let low = _mm256_cmpgt_epi8(_mm256_add_epi8(low, shift), last);
        let high = _mm256_cmpgt_epi8(_mm256_add_epi8(high, shift), last);
        let cannot = u64::from(_mm256_movemask_epi8(low) as u32)
            | u64::from(_mm256_movemask_epi8(high) as u32) << 32;
        if let Some(start) = stretch_at(!cannot, at, &mut carried) {
            return Some(start);
        }
        at += 64;
    }
    None
}

/// One chunk of [`long_stretch`]: `could` is [`could_join`] of the chunk at
/// `at`, and `carried` how many bytes just before `at` (back to where the
/// search started) could join; updated for the next chunk.
#[inline(always)]
fn stretch_at(could: u64, at: usize, carried: &mut usize) -> Option<usize> {
    if *carried + could.trailing_ones() as usize >= LEN {
        return Some(at - *carried);
    }
    // Bit k: bytes k..k + LEN of the chunk could all join.
    let mut starts = could;
    starts &= starts >> 1;
    starts &= starts >> 2;
    starts &= starts >> 4;
    starts &= starts >> (LEN - 8);
    if starts != 0 {
        return Some(at + starts.trailing_zeros() as usize);
    }
    // Fewer than LEN (a chunk that could all join has a stretch).
    *carried = could.leading_ones() as usize;
    None
}

/// Bit k is set where `chunk[k]` is an ASCII digit.
pub(super) fn digits(chunk: &[u8; 64]) -> u64 {
    crate::masks::in_byte_range(chunk, b'0', b'9')
}

/// Bit k is set where `chunk[k]` may join two digits: a space, `-` or `.`.
#[cfg(target_arch = "x86_64")]
pub(super) fn separators(chunk: &[u8; 64]) -> u64 {
    use std::arch::x86_64::*;
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads the
    // 16 bytes at `chunk[k..k + 16]`, with k + 16 <= 64.
    unsafe {
        let (space, hyphen, dot) = (
            _mm_set1_epi8(b' ' as i8),
            _mm_set1_epi8(b'-' as i8),
            _mm_set1_epi8(b'.' as i8),
        );
        for k in (0..64).step_by(16) {
            let x = _mm_loadu_si128(chunk.as_ptr().add(k).cast::<__m128i>());
            let any = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, space), _mm_cmpeq_epi8(x, hyphen)),
                _mm_cmpeq_epi8(x, dot),
            );
            mask |= u64::from(_mm_movemask_epi8(any) as u16) << k;
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn separators(chunk: &[u8; 64]) -> u64 {
    crate::masks::bits(chunk, |c| matches!(c, b' ' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masks::bits;
    use proptest::prelude::*;

    /// Every stretch start, byte by byte: the first `k >= from` with
    /// `b[k..k + LEN]` all in `b' '..=b'9'` and `k == from` or `b[k - 1]`
    /// outside it.
    fn plain_stretch(b: &[u8], from: usize) -> Option<usize> {
        let could = |c: &u8| (b' '..=b'9').contains(c);
        (from..b.len()).find(|&k| {
            (k == from || !could(&b[k - 1]))
                && b.get(k..k + LEN).is_some_and(|s| s.iter().all(could))
        })
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![4 => b'0'..=b'9', 2 => Just(b' '), 1 => Just(b'-'), 1 => Just(b'"'), 3 => any::<u8>()],
            0..400,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The stretch found is where some stretch starts, and none starts
        /// earlier: both forms, wherever the search starts.
        #[test]
        fn stretches_are_found_as_byte_by_byte(b in bytes(), from in 0usize..400) {
            let from = from.min(b.len());
            let expected = plain_stretch(&b, from);
            prop_assert_eq!(long_stretch_plain(&b, from), expected);
            prop_assert_eq!(long_stretch(&b, from), expected);
        }

        /// Both forms give the masks `chunk_mask` gives, near the end of
        /// `b` too.
        #[test]
        fn window_masks_are_the_chunk_masks(b in bytes(), at in 0usize..400) {
            let at = at.min(b.len().saturating_sub(1));
            prop_assume!(at < b.len());
            let expected = (chunk_mask(&b, at, digits), chunk_mask(&b, at, separators));
            prop_assert_eq!(Stretches::new().digits_and_separators(&b, at), expected);
            prop_assert_eq!(Stretches { avx2: false }.digits_and_separators(&b, at), expected);
        }

        #[test]
        fn digit_and_separator_masks_are_the_plain_ones(b in proptest::collection::vec(any::<u8>(), 64)) {
            let chunk: &[u8; 64] = b.as_slice().try_into().unwrap();
            prop_assert_eq!(digits(chunk), bits(chunk, |c| c.is_ascii_digit()));
            prop_assert_eq!(separators(chunk), bits(chunk, |c| matches!(c, b' ' | b'-' | b'.')));
        }
    }
}
