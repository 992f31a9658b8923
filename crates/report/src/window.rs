//! The time window a report covers: `[from, to)`, either end open.

use crate::ReportError;
use compliance_api::Timestamp;

/// Which violations a report covers, by `detectedAt`, and which extractions,
/// by the interval they queried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl Window {
    /// Parses the two bounds; `names` are how the caller's user wrote them
    /// (`--from`/`--to` on a command line, `from`/`to` in a query string), so
    /// that a refusal names the input.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        names: (&str, &str),
    ) -> Result<Window, ReportError> {
        let bound = |value: Option<&str>, name: &str| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<Timestamp>().map_err(|e| ReportError::Window {
                        name: name.to_owned(),
                        why: e.0,
                    })
                })
                .transpose()
        };
        let window = Window {
            from: bound(from, names.0)?,
            to: bound(to, names.1)?,
        };
        if let (Some(from), Some(to)) = (window.from, window.to) {
            if to <= from {
                return Err(ReportError::Window {
                    name: names.1.to_owned(),
                    why: format!(
                        "{to} is not after {} {from}; give an end after the start",
                        names.0
                    ),
                });
            }
        }
        Ok(window)
    }

    /// Whether `at` falls in the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|f| at >= f) && self.to.is_none_or(|t| at < t)
    }

    /// Whether `[start, end)` overlaps the window.
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }

    /// How the page states the window.
    pub fn describe(&self) -> String {
        match (self.from, self.to) {
            (None, None) => "all violations in the input".into(),
            (Some(f), None) => format!("violations detected from {f}"),
            (None, Some(t)) => format!("violations detected before {t}"),
            (Some(f), Some(t)) => format!("violations detected from {f} to {t} (end excluded)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bounds_are_refused_naming_the_input() {
        let err = Window::parse(Some("yesterday"), None, ("--from", "--to")).unwrap_err();
        assert!(err.to_string().starts_with("--from: `yesterday`"), "{err}");
        let err = Window::parse(
            Some("2023-10-02T00:00:00Z"),
            Some("2023-10-01T00:00:00Z"),
            ("from", "to"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("to: "), "{err}");
        let err = Window::parse(None, Some("2023-10-01T00:00:00+02:00"), ("--from", "--to"));
        assert!(
            err.is_err(),
            "a non-UTC offset is refused as extract refuses it"
        );
    }

    #[test]
    fn the_window_includes_its_start_and_excludes_its_end() {
        let w = Window::parse(
            Some("2023-10-01T00:00:00Z"),
            Some("2023-10-02T00:00:00Z"),
            ("--from", "--to"),
        )
        .unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(w.contains(at("2023-10-01T00:00:00Z")));
        assert!(!w.contains(at("2023-10-02T00:00:00Z")));
        assert!(Window::default().contains(at("1999-01-01T00:00:00Z")));
    }
}
