//! Section 3: every request constraint refused with 400, naming the field.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn size_outside_one_to_a_thousand_is_refused_naming_size() {
    let s = start(small(10)).await;
    let token = s.token().await;
    for size in [
        json!(0),
        json!(1001),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(null),
    ] {
        let mut q = day_query(1);
        q["size"] = size.clone();
        let body = api_error(s.query(&token, &q).await, 400, "bad.request").await;
        assert_eq!(fields(&body), ["size"], "size {size}");
    }
}

#[tokio::test]
async fn a_body_over_512000_bytes_gets_413_before_it_is_parsed() {
    let s = start(small(10)).await;
    let token = s.token().await;
    // Not even JSON: the size is checked first.
    let r = s.query_raw(&token, vec![b'x'; 512_001]).await;
    api_error(r, 413, "request.too.large").await;
    // Exactly at the limit it is parsed (and refused for what it is).
    let mut body = serde_json::to_vec(&day_query(1)).unwrap();
    body.resize(512_000, b' ');
    let r = s.query_raw(&token, body).await;
    assert_eq!(r.status(), 200);
}
