//! `--sink nats://[CREDENTIALS@]HOST[:PORT]/SUBJECT`, parsed into a typed
//! value before anything is sent. Credentials (`USER:PASSWORD@` or
//! `TOKEN@`) are kept as secrets: neither `Display`, `Debug` nor any
//! refusal shows them.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The form a refusal shows as allowed.
pub const ALLOWED: &str = "give nats://HOST[:PORT]/SUBJECT, such as \
     nats://127.0.0.1:4222/compliance.violations (optionally USER:PASSWORD@ or TOKEN@ \
     before the host; the port defaults to 4222; the subject is dot-separated tokens \
     without spaces or the wildcards * and >)";

/// The NATS port when the URL names none.
pub const DEFAULT_PORT: u16 = 4222;

/// How the client proves who it is, when the URL says.
#[derive(Clone)]
pub enum Credentials {
    UserPassword {
        user: String,
        password: SecretString,
    },
    Token(SecretString),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::UserPassword { user, .. } => {
                write!(f, "UserPassword {{ user: {user:?}, password: [REDACTED] }}")
            }
            Credentials::Token(_) => f.write_str("Token([REDACTED])"),
        }
    }
}

/// A NATS subject to publish to: non-empty tokens separated by dots, none
/// holding whitespace, control characters or a wildcard (`*`, `>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    pub fn parse(text: &str) -> Result<Subject, String> {
        if text.is_empty() {
            return Err("the subject is empty".into());
        }
        for token in text.split('.') {
            if token.is_empty() {
                return Err(format!(
                    "the subject `{text}` has an empty token (a leading, trailing or doubled dot)"
                ));
            }
            if let Some(c) = token
                .chars()
                .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '>'))
            {
                let what = match c {
                    '*' | '>' => format!("the wildcard `{c}`: a publish needs one subject"),
                    _ => format!("the character {c:?}"),
                };
                return Err(format!("the subject `{text}` holds {what}"));
            }
        }
        Ok(Subject(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stream name made from the subject (`compliance.violations` →
    /// `COMPLIANCE_VIOLATIONS`): stream names may hold no dots.
    pub fn stream_name(&self) -> String {
        self.0
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c.to_ascii_uppercase(),
                _ => '_',
            })
            .collect()
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where output lines are published: a NATS server and a subject.
#[derive(Debug, Clone)]
pub struct NatsTarget {
    pub host: String,
    pub port: u16,
    pub subject: Subject,
    pub credentials: Option<Credentials>,
}

impl PartialEq for NatsTarget {
    /// The same server and subject: the same output, whoever logs in.
    fn eq(&self, other: &Self) -> bool {
        (&self.host, self.port, &self.subject) == (&other.host, other.port, &other.subject)
    }
}
impl Eq for NatsTarget {}

impl NatsTarget {
    /// Parses `nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT]/SUBJECT`. A refusal
    /// says what is wrong and what is allowed, and shows the URL with its
    /// credentials masked.
    pub fn parse(text: &str) -> Result<NatsTarget, String> {
        let refuse = |why: &str| format!("`{}` {why}; {ALLOWED}", mask(text));
        let rest = text
            .strip_prefix("nats://")
            .ok_or_else(|| refuse("does not start with nats://"))?;
        let (authority, subject) = rest
            .split_once('/')
            .ok_or_else(|| refuse("names no subject after the host"))?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = split_port(hostport).map_err(|why| refuse(&why))?;
        if host.is_empty() {
            return Err(refuse("names no host"));
        }
        let host_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !host_ok {
            return Err(refuse(
                "has a host that is neither a name nor an IP address",
            ));
        }
        let subject =
            Subject::parse(subject).map_err(|why| refuse(&format!("is refused: {why}")))?;
        let credentials = match userinfo {
            None => None,
            Some(info) => Some(credentials(info).map_err(|why| refuse(&why))?),
        };
        Ok(NatsTarget {
            host: host.to_owned(),
            port,
            subject,
            credentials,
        })
    }

    /// `HOST:PORT` as the client connects to it (IPv6 in brackets).
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for NatsTarget {
    /// The URL without its credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nats://{}/{}", self.server(), self.subject)
    }
}

/// `HOST[:PORT]` or `[IPV6][:PORT]`.
fn split_port(hostport: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("has an IPv6 host without its closing ]")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("has text after the IPv6 host")?,
                ),
            ),
        }
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("has the port `{p}`, not one from 1 to 65535")),
        },
    };
    Ok((host, port))
}

/// `USER:PASSWORD` or `TOKEN`, percent-decoded.
fn credentials(info: &str) -> Result<Credentials, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| "has credentials that are not UTF-8 once percent-decoded".to_string())
    };
    match info.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Credentials::UserPassword {
            user: decode(user)?,
            password: SecretString::from(decode(password)?),
        }),
        Some(_) => Err("has a password without a user".into()),
        None if info.is_empty() => Err("has an empty user before @".into()),
        None => Ok(Credentials::Token(SecretString::from(decode(info)?))),
    }
}

/// `text` with whatever stands before the host's `@` replaced by `***`, so
/// that a refusal can show the URL without its credentials.
pub fn mask(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

impl Credentials {
    /// The secret part, for the client's connect options only.
    pub(crate) fn expose(&self) -> (&str, Option<&str>) {
        match self {
            Credentials::UserPassword { user, password } => {
                (user.as_str(), Some(password.expose_secret()))
            }
            Credentials::Token(token) => (token.expose_secret(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_parses_into_its_parts() {
        let t = NatsTarget::parse("nats://app:s3cr%40t@nats.internal:4223/compliance.violations")
            .unwrap();
        assert_eq!(t.host, "nats.internal");
        assert_eq!(t.port, 4223);
        assert_eq!(t.subject.as_str(), "compliance.violations");
        match &t.credentials {
            Some(Credentials::UserPassword { user, password }) => {
                assert_eq!(user, "app");
                assert_eq!(password.expose_secret(), "s3cr@t");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.to_string(),
            "nats://nats.internal:4223/compliance.violations"
        );
        assert!(!format!("{t:?}").contains("s3cr"), "{t:?}");
    }

    #[test]
    fn the_port_defaults_to_4222_and_ipv6_keeps_its_brackets() {
        let t = NatsTarget::parse("nats://127.0.0.1/v").unwrap();
        assert_eq!((t.port, t.server()), (4222, "127.0.0.1:4222".to_string()));
        let t = NatsTarget::parse("nats://tok3n@[::1]:5000/a.b").unwrap();
        assert_eq!(t.server(), "[::1]:5000");
        assert!(matches!(t.credentials, Some(Credentials::Token(_))));
        assert_eq!(t.to_string(), "nats://[::1]:5000/a.b");
    }

    #[test]
    fn bad_urls_are_refused_with_the_allowed_form_and_no_credentials() {
        for (url, why) in [
            ("http://127.0.0.1:4222/v", "does not start with nats://"),
            ("nats://127.0.0.1:4222", "names no subject"),
            ("nats://127.0.0.1:4222/", "the subject is empty"),
            ("nats://127.0.0.1:4222/a b", "the character ' '"),
            ("nats://127.0.0.1:4222/a.*", "the wildcard `*`"),
            ("nats://127.0.0.1:4222/a.>", "the wildcard `>`"),
            ("nats://127.0.0.1:4222/a..b", "an empty token"),
            ("nats://127.0.0.1:0/a", "the port `0`"),
            ("nats://127.0.0.1:x/a", "the port `x`"),
            ("nats://:4222/a", "names no host"),
            ("nats://user:hunter2@h:99999/a", "the port `99999`"),
            ("nats://user:hunter2@h/a b", "the character ' '"),
        ] {
            let err = NatsTarget::parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
            assert!(err.contains("nats://HOST[:PORT]/SUBJECT"), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn stream_names_are_made_from_the_subject() {
        let s = Subject::parse("compliance.violations-eu").unwrap();
        assert_eq!(s.stream_name(), "COMPLIANCE_VIOLATIONS-EU");
    }

    #[test]
    fn masking_hides_whatever_stands_before_the_host() {
        assert_eq!(mask("nats://u:p@h:1/s"), "nats://***@h:1/s");
        assert_eq!(mask("u:p@h/s@x"), "***@h/s@x");
        assert_eq!(mask("nats://h/s"), "nats://h/s");
    }
}
