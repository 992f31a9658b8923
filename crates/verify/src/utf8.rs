//! UTF-8 checked once for all the whole lines of a read buffer, not line by
//! line: one long check is cheaper than many short ones.

/// What is known of the UTF-8 of a read buffer whose front is consumed
/// line by line (as `BufRead` buffers are): its first `checked` bytes are
/// UTF-8, and its first `looked` bytes (up to a newline) have had their check.
#[derive(Debug, Default)]
pub struct Utf8Lines {
    checked: usize,
    looked: usize,
}

impl Utf8Lines {
    /// The line `buf[..end]` (`buf[end]` a newline, `buf` starting at a line's
    /// start) as text, if it is UTF-8; `None` if it is not, or not known to
    /// be (a line cut short by the end of the buffer, say): its bytes then
    /// need their own check. The first line past what was checked has the
    /// whole buffer, up to its last newline, checked.
    #[inline]
    pub fn line<'b>(&mut self, buf: &'b [u8], end: usize) -> Option<&'b str> {
        if end >= self.looked {
            self.check(buf);
        }
        if end > self.checked {
            return None;
        }
        // SAFETY: `buf[..checked]` is UTF-8, and `buf[..end]` a prefix of it
        // ending before a newline (ASCII), so at a character boundary.
        Some(unsafe { std::str::from_utf8_unchecked(&buf[..end]) })
    }

    /// Checks `buf` up to its last newline.
    #[inline(never)]
    fn check(&mut self, buf: &[u8]) {
        if let Some(last) = memchr::memrchr(b'\n', buf) {
            self.checked = match simdutf8::compat::from_utf8(&buf[..last]) {
                Ok(_) => last,
                Err(e) => e.valid_up_to(),
            };
            self.looked = last + 1;
        }
    }

    /// The first `used` bytes of the buffer were consumed.
    #[inline]
    pub fn consume(&mut self, used: usize) {
        self.checked = self.checked.saturating_sub(used);
        self.looked = self.looked.saturating_sub(used);
    }

    /// The buffer was consumed in another way: nothing is known of the next.
    pub fn reset(&mut self) {
        *self = Utf8Lines::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Lines of any bytes (valid UTF-8 mostly, with a stray byte or a
        /// character cut short now and then), consumed line by line: each
        /// line is given as text exactly when it is UTF-8, save lines past
        /// a bad one in the same buffer, which are left to their own check.
        #[test]
        fn lines_are_text_exactly_when_they_are_utf8(
            lines in prop::collection::vec(
                prop_oneof![
                    8 => "[a-z é€\u{1F600}\"{}:,]{0,40}".prop_map(String::into_bytes),
                    1 => prop::collection::vec(any::<u8>(), 0..40),
                ],
                1..40,
            ),
            cut in 1usize..2000,
        ) {
            let mut input: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
            // A buffer holds the input up to `cut`, as a read would.
            input.truncate(cut.min(input.len()));
            let mut known = Utf8Lines::default();
            let mut at = 0;
            let mut bad_seen = false;
            while let Some(end) = input[at..].iter().position(|&c| c == b'\n') {
                let buf = &input[at..];
                let line = &buf[..end];
                let valid = std::str::from_utf8(line).is_ok();
                match known.line(buf, end) {
                    Some(text) => {
                        prop_assert!(valid, "{line:?} given as text");
                        prop_assert_eq!(text.as_bytes(), line);
                    }
                    None => prop_assert!(!valid || bad_seen, "{line:?} not given as text"),
                }
                bad_seen |= !valid;
                known.consume(end + 1);
                at += end + 1;
            }
        }
    }

    #[test]
    fn a_line_without_its_newline_in_the_buffer_is_not_known() {
        let mut known = Utf8Lines::default();
        assert_eq!(known.line(b"ab\ncd", 2), Some("ab"));
        known.consume(3);
        // "cd" has no newline in the buffer: the caller reads on, and resets.
        known.reset();
        assert_eq!(known.line(b"\xffx\n", 2), None);
        known.consume(3);
        assert_eq!(known.line(b"ok\n", 2), Some("ok"));
    }
}
