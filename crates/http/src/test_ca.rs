//! A private CA made on the spot, as a company's would be: its certificate
//! is what `--ca-cert` is given, and it issues the certificates of the
//! loopback servers that tests (and a demo) run over HTTPS.

use crate::server::ServerTls;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA with a fresh key; nothing is written anywhere.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl TestCa {
    /// A new CA named `name` (its common name).
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("a key pair");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("a self-signed CA");
        TestCa { cert, key }
    }

    /// The CA's certificate, PEM: what a client is told to trust.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (host names or IP addresses),
    /// signed by this CA, and its key: PEM chain and PEM key.
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "loopback test server");
        let key = KeyPair::generate().expect("a key pair");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("a certificate signed by the CA");
        (cert.pem(), key.serialize_pem())
    }

    /// TLS for a loopback server: a certificate for `localhost`,
    /// `127.0.0.1` and `::1` signed by this CA.
    pub fn loopback_server(&self) -> ServerTls {
        let (chain, key) = self.issue(&["localhost", "127.0.0.1", "::1"]);
        ServerTls::from_pem(chain.as_bytes(), key.as_bytes()).expect("the issued pair serves TLS")
    }
}
