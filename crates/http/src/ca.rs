//! Certificates of a private CA that a deployment adds to the trust store:
//! read from a PEM file, checked before anything is sent.

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::CertificateDer;
use std::fmt;
use std::path::{Path, PathBuf};

/// One or more CA certificates from a PEM file, each usable as a trust anchor.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    source: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("source", &self.source)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

/// Why a CA file was refused. Each message names the file and says what a
/// usable one holds; the caller adds the flag or key it came from.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The file cannot be read (missing, a directory, no permission).
    #[error("cannot read the CA file {}: {source}", path.display())]
    Read {
        /// The file as given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not PEM text.
    #[error(
        "the CA file {} is not PEM ({detail}); give the CA's certificate as PEM text, \
         -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----",
        path.display()
    )]
    NotPem {
        /// The file as given.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// PEM, but without a certificate (a key, a request, ...).
    #[error(
        "the CA file {} holds no certificate (found: {found}); give a PEM file with one or \
         more -----BEGIN CERTIFICATE----- sections",
        path.display()
    )]
    NoCertificate {
        /// The file as given.
        path: PathBuf,
        /// The kinds of section it does hold.
        found: String,
    },
    /// A certificate section that does not parse as an X.509 certificate.
    #[error(
        "certificate {number} of the CA file {} is not a usable X.509 certificate ({detail})",
        path.display()
    )]
    BadCertificate {
        /// The file as given.
        path: PathBuf,
        /// Which certificate, counting from 1.
        number: usize,
        /// What rustls said.
        detail: String,
    },
}

impl CaBundle {
    /// Reads and checks the PEM file at `path`.
    pub fn load(path: &Path) -> Result<CaBundle, CaError> {
        let bytes = std::fs::read(path).map_err(|source| CaError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        CaBundle::from_pem(path, &bytes)
    }

    /// Checks PEM text read from `source` (named in errors).
    pub fn from_pem(source: &Path, pem: &[u8]) -> Result<CaBundle, CaError> {
        let path = || source.to_path_buf();
        let mut certs = Vec::new();
        let mut others = Vec::new();
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
            let (kind, der) = section.map_err(|e| CaError::NotPem {
                path: path(),
                detail: e.to_string(),
            })?;
            match kind {
                SectionKind::Certificate => certs.push(CertificateDer::from(der)),
                other => others.push(format!("{other:?}")),
            }
        }
        if certs.is_empty() && others.is_empty() {
            return Err(CaError::NotPem {
                path: path(),
                detail: "no PEM section in it".into(),
            });
        }
        if certs.is_empty() {
            return Err(CaError::NoCertificate {
                path: path(),
                found: others.join(", "),
            });
        }
        // The trust store's own check: what it would refuse later is refused now.
        let mut store = rustls::RootCertStore::empty();
        for (i, cert) in certs.iter().enumerate() {
            store
                .add(cert.clone())
                .map_err(|e| CaError::BadCertificate {
                    path: path(),
                    number: i + 1,
                    detail: e.to_string(),
                })?;
        }
        Ok(CaBundle {
            source: source.to_path_buf(),
            certs,
        })
    }

    /// The file the certificates came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// How many certificates it holds (at least one).
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Never true: a bundle holds at least one certificate.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificates, DER-encoded.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        CaBundle::from_pem(Path::new("ca.pem"), text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_file_that_is_not_a_pem_certificate_is_refused_by_name() {
        let e = refused("hello, I am not a certificate\n");
        assert!(e.contains("ca.pem") && e.contains("not PEM"), "{e}");
        let e = refused("-----BEGIN CERTIFICATE-----\nAAAA\n");
        assert!(e.contains("ca.pem") && e.contains("not PEM"), "{e}");
        let e = refused("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        assert!(
            e.contains("ca.pem") && e.contains("no certificate") && e.contains("PrivateKey"),
            "{e}"
        );
        let e = refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(
            e.contains("certificate 1 of the CA file ca.pem") && e.contains("X.509"),
            "{e}"
        );
        let missing = CaBundle::load(Path::new("/nonexistent/ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("cannot read the CA file /nonexistent/ca.pem"),
            "{missing}"
        );
    }
}
