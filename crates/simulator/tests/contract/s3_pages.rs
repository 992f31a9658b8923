//! Section 3: the 200 response and its paging.

use crate::harness::*;
use serde_json::Value;

#[tokio::test]
async fn cursor_paging_returns_every_violation_exactly_once_in_order() {
    let s = start(small(1_234)).await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(100)).await;
    assert_eq!(pages.len(), 13);
    let served: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .collect();
    let expected: Vec<Value> = s
        .sim
        .dataset()
        .violations
        .iter()
        .map(|v| v.json())
        .collect();
    assert_eq!(served.len(), expected.len());
    for (got, want) in served.iter().zip(&expected) {
        assert_eq!(*got, want);
    }
    for page in &pages {
        assert_eq!(page["pageSize"], 100);
        assert_eq!(page["total"], 1_234);
    }
}
