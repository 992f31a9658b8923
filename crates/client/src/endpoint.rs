//! Where the token endpoint and the API live.

use compliance_api::Region;
use reqwest::Url;
use std::fmt;

/// Why a base URL was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("`{0}` is not a URL; write it like https://api.mypurecloud.com")]
    /// Not an absolute URL with a host.
    Malformed(String),
    #[error("`{0}` uses the scheme `{1}`; allowed: https://, or http:// for loopback only")]
    /// A scheme other than http or https.
    Scheme(String, String),
    #[error(
        "`{0}` is plain http:// to a host that is not loopback; use https://, \
         or http:// only with 127.0.0.0/8, ::1 or localhost"
    )]
    /// Plain http to a host that is not loopback.
    InsecureRemote(String),
    #[error("`{0}` has a query or fragment; give only scheme, host, port and path")]
    /// A query string or fragment.
    Extra(String),
}

/// An absolute `https://` URL, or `http://` to a loopback host (simulators,
/// local gateways). Credentials and tokens never travel in clear text to
/// anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// Parses and checks a base URL; a trailing `/` is ignored.
    pub fn parse(s: &str) -> Result<BaseUrl, BaseUrlError> {
        let url = Url::parse(s.trim()).map_err(|_| BaseUrlError::Malformed(s.to_string()))?;
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(BaseUrlError::Malformed(s.to_string()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::Extra(s.to_string()));
        }
        match url.scheme() {
            "https" => {}
            "http" if compliance_http::is_loopback(&url) => {}
            "http" => return Err(BaseUrlError::InsecureRemote(s.to_string())),
            other => return Err(BaseUrlError::Scheme(s.to_string(), other.to_string())),
        }
        Ok(BaseUrl(url))
    }

    /// `path` (which starts with `/`) under this base.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

/// Whether `url` is plain `http://` to a loopback host.
pub(crate) fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && compliance_http::is_loopback(url)
}

/// The API host and the OAuth (login) host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where `/api/v2/...` lives.
    pub api: BaseUrl,
    /// Where `/oauth/token` lives.
    pub login: BaseUrl,
}

impl Endpoints {
    /// The hosts of a Genesys Cloud region.
    pub fn for_region(region: &Region) -> Endpoints {
        Endpoints {
            api: BaseUrl::parse(&region.api_base_url()).expect("region URLs are https"),
            login: BaseUrl::parse(&region.login_base_url()).expect("region URLs are https"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for good in [
            "https://api.mypurecloud.ie",
            "https://gateway.example.com:8443/genesys/",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:9000",
            "http://localhost:3000",
        ] {
            BaseUrl::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        assert!(matches!(
            BaseUrl::parse("http://10.0.0.1:8080"),
            Err(BaseUrlError::InsecureRemote(_))
        ));
        assert!(matches!(
            BaseUrl::parse("http://localhost.example.com"),
            Err(BaseUrlError::InsecureRemote(_))
        ));
        assert!(matches!(
            BaseUrl::parse("ftp://x"),
            Err(BaseUrlError::Scheme(..))
        ));
        assert!(matches!(
            BaseUrl::parse("api.mypurecloud.com"),
            Err(BaseUrlError::Malformed(_))
        ));
        assert!(matches!(
            BaseUrl::parse("https://a.b/?x=1"),
            Err(BaseUrlError::Extra(_))
        ));
    }

    #[test]
    fn paths_join_under_the_base() {
        let b = BaseUrl::parse("https://gw.example.com/genesys/").unwrap();
        assert_eq!(
            b.join("/oauth/token").as_str(),
            "https://gw.example.com/genesys/oauth/token"
        );
        let b = BaseUrl::parse("http://127.0.0.1:1").unwrap();
        assert_eq!(
            b.join("/oauth/token").as_str(),
            "http://127.0.0.1:1/oauth/token"
        );
        assert_eq!(b.to_string(), "http://127.0.0.1:1");
    }
}
