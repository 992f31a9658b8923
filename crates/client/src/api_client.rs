//! The transport, opened to other endpoints of the API: what the real
//! Genesys Cloud sources (`compliance-sources`) send their requests through,
//! so that every source shares one token, one pacer and one retry policy.

use crate::error::Error;
use crate::pacer::Pacer;
use crate::stats::Stats;
pub use crate::transport::{Access, Presigned};
use crate::transport::{Call, Transport, TransportConfig};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Paced, retrying JSON requests to any path of the API host, and fetches of
/// pre-signed URLs. Cheap to clone: clones share the token, pacer and counters.
#[derive(Clone)]
pub struct ApiClient {
    transport: Arc<Transport>,
}

impl ApiClient {
    /// Builds the HTTP client; sends nothing yet.
    pub fn new(config: TransportConfig) -> Result<ApiClient, Error> {
        let stats = Arc::new(Stats::default());
        Ok(ApiClient {
            transport: Arc::new(Transport::new(config, stats)?),
        })
    }

    /// Live counters of every request made through this client.
    pub fn stats(&self) -> Arc<Stats> {
        self.transport.stats.clone()
    }

    /// The pacer every request of this client waits for: its state is the
    /// org's rate budget as this process spends it.
    pub fn pacer(&self) -> Arc<Pacer> {
        self.transport.pacer.clone()
    }

    /// Paces requests for `per_minute` from now on (a limit read from the
    /// organisation's limits API).
    pub fn set_rate_limit(&self, per_minute: u32) {
        self.transport.set_rate_limit(per_minute);
    }

    /// `GET path?query`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        access: Access,
    ) -> Result<T, Error> {
        let call = Call {
            method: Method::GET,
            url: self.transport.api_url(path, query),
            body: None,
            access,
        };
        self.transport.call(&call, path, decode::<T>).await
    }

    /// `POST path` with a JSON body, the answer decoded as `T`.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        access: Access,
    ) -> Result<T, Error> {
        let call = Call {
            method: Method::POST,
            url: self.transport.api_url(path, &[]),
            body: Some(serde_json::to_vec(body).expect("request bodies serialise")),
            access,
        };
        self.transport.call(&call, path, decode::<T>).await
    }

    /// `DELETE path`; the answer's body is ignored.
    pub async fn delete(&self, path: &str, access: Access) -> Result<(), Error> {
        let call = Call {
            method: Method::DELETE,
            url: self.transport.api_url(path, &[]),
            body: None,
            access,
        };
        self.transport.call(&call, path, |_| Ok(())).await
    }

    /// Fetches a pre-signed URL the API handed out, without the bearer token
    /// (it must not travel to another host). Only `https://`, or `http://`
    /// to loopback, is fetched.
    pub async fn presigned<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<Presigned<T>, Error> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "https" || crate::endpoint::is_loopback_http(u))
            .ok_or_else(|| Error::Rejected {
                status: 200,
                code: "invalid.url".into(),
                field: Some("url".into()),
                message: format!(
                    "the API handed out a URL for {what} that is neither https:// nor loopback"
                ),
                correlation_id: None,
            })?;
        self.transport.presigned(&parsed, what, decode::<T>).await
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}
