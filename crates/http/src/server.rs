//! TLS for the loopback servers of demos and tests (simulator, webhook
//! receiver): a certificate chain and key, and the handshake on accept.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that does not finish its handshake within this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's certificate chain and key, ready to accept TLS connections.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

/// A certificate chain or key that cannot serve TLS.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve TLS with this certificate and key: {0}")]
pub struct TlsSetupError(String);

impl ServerTls {
    /// From PEM text: the server's certificate first, then any intermediates;
    /// and its private key.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<ServerTls, TlsSetupError> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError(format!("certificate: {e}")))?;
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsSetupError(format!("key: {e}")))?;
        // The provider is named, not taken from the process default, so that
        // the choice does not depend on which crates happen to be linked.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The TLS handshake on an accepted connection (bounded in time).
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))?
    }
}
