//! Shared by the pipeline's tests: an extractor for a simulator on loopback.

use compliance_client::{
    BaseUrl, Credentials, Endpoints, ExtractorConfig, TransportConfig, ViolationExtractor,
};
use compliance_simulator::{Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use std::time::Duration;

/// An extractor of `sim`'s data as its demo client, unpaced, with quick retries.
pub fn extractor(sim: &Simulator) -> ViolationExtractor {
    let base = BaseUrl::parse(&sim.base_url()).unwrap();
    let endpoints = Endpoints {
        api: base.clone(),
        login: base,
    };
    let credentials = Credentials {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.to_string().into(),
    };
    let mut transport = TransportConfig::new(endpoints, credentials);
    transport.rate_limit_per_minute = 0;
    transport.retry.base_delay = Duration::from_millis(5);
    ViolationExtractor::new(ExtractorConfig::new(transport)).unwrap()
}
