//! Building a client: trust, proxies, timeouts, redirects.

use crate::ca::CaBundle;
use std::net::IpAddr;
use std::time::Duration;

/// How one client of this program talks HTTP.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// One request (connect, send, read the whole body) must end within this:
    /// a server that trickles its answer is cut here, not only at connect.
    pub timeout: Duration,
    /// Connecting (TCP and TLS) must end within this.
    pub connect_timeout: Duration,
    /// A private CA trusted on top of the system's and the bundled roots.
    pub ca: Option<CaBundle>,
    /// Whether redirects are followed (at most 10, never to plain http://
    /// off loopback); `false` hands a 3xx back as the answer.
    pub follow_redirects: bool,
}

impl ClientSettings {
    /// `timeout` for the whole request and for connecting, no added CA,
    /// redirects followed.
    pub fn new(timeout: Duration) -> Self {
        ClientSettings {
            timeout,
            connect_timeout: timeout,
            ca: None,
            follow_redirects: true,
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct SetupError(String);

/// Builds a client with `settings`.
///
/// Trust: the roots bundled with the program (webpki-roots: they reach Genesys
/// Cloud from a container without a CA store), the system's store
/// (rustls-native-certs, which honours `SSL_CERT_FILE`: that is where
/// platform teams install the CA of a TLS-inspecting gateway), and
/// `settings.ca`. Both root sets are compiled in through reqwest's features.
///
/// Proxies: `HTTPS_PROXY`/`https_proxy` (and `HTTP_PROXY`, `ALL_PROXY`) with
/// `NO_PROXY`/`no_proxy`, read by reqwest from the environment as curl does.
/// Never call `.no_proxy()` here: corporate networks reach the internet
/// only through their proxy.
pub fn client(settings: &ClientSettings) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .user_agent(concat!("genesys-compliance/", env!("CARGO_PKG_VERSION")))
        .redirect(if settings.follow_redirects {
            secure_redirects()
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(ca) = &settings.ca {
        for der in ca.certificates() {
            let cert = reqwest::Certificate::from_der(der)
                .map_err(|e| SetupError(format!("{}: {e}", ca.source().display())))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| SetupError(e.to_string()))
}

/// Follows up to 10 redirects, but never from TLS down to plain http:// to
/// a host that is not loopback (a token or record would cross in clear text).
fn secure_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else if attempt.url().scheme() == "http" && !is_loopback(attempt.url()) {
            attempt.error("a redirect to plain http:// off loopback was refused")
        } else {
            attempt.follow()
        }
    })
}

/// Whether `url`'s host is loopback (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}
