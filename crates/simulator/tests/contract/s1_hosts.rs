//! Section 1: a simulator is one explicit loopback base URL that serves as
//! both the API base URL and the login base URL.

use crate::harness::*;

#[tokio::test]
async fn the_token_endpoint_and_the_api_share_one_loopback_base_url() {
    let s = start(small(5)).await;
    let base = s.sim.base_url();
    assert_eq!(base, format!("http://{}", s.sim.addr()));
    assert!(s.sim.addr().ip().is_loopback());
    assert_ne!(
        s.sim.addr().port(),
        0,
        "the bound port, not the requested 0"
    );
    let token = s.token().await; // {base}/oauth/token
    assert_eq!(s.query(&token, &day_query(5)).await.status(), 200); // {base}/api/v2/...
}

#[tokio::test]
async fn it_stops_when_dropped() {
    let s = start(small(5)).await;
    let addr = s.sim.addr();
    s.sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_busy_port_is_an_error_at_start() {
    let s = start(small(5)).await;
    let err = compliance_simulator::Simulator::start(small(5), s.sim.addr())
        .await
        .expect_err("the port is taken");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}
