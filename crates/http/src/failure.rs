//! Failures worth telling apart from a plain network error.

use rustls::CertificateError;
use std::error::Error;

/// When `e` failed because the server's certificate is not trusted (an
/// unknown CA, a wrong name, expired): what rustls said. Retrying cannot
/// help, and the fix is in the caller's trust settings.
pub fn untrusted_certificate(e: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        // An io::Error hides the error it wraps from `source()` (and the
        // connector wraps one io::Error in another): look inside each.
        let mut inner = Some(err);
        while let Some(e) = inner {
            if let Some(found) = certificate_error(e) {
                return Some(found);
            }
            inner = e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|e| e as &(dyn Error + 'static));
        }
        next = err.source();
    }
    None
}

fn certificate_error(err: &(dyn Error + 'static)) -> Option<String> {
    match err.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(c) => Some(
            match c {
                CertificateError::UnknownIssuer => "signed by a CA that is not trusted",
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => "issued for another host name",
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "not valid yet"
                }
                other => return Some(format!("refused: {other:?}")),
            }
            .to_string(),
        ),
        _ => None,
    }
}
