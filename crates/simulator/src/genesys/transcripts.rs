//! Transcripts (spec §2.1, §2.2): `transcripturl` answers `{url}`, a
//! pre-signed URL on the store's own path (S3, another host, in Genesys
//! Cloud). The store behaves like S3: it wants no `Authorization` header (400
//! `InvalidArgument`: a real pre-signed URL refuses a second auth mechanism,
//! and this proves a client never sends its bearer token to the storage
//! host), and once the URL has expired it answers 403 `AccessDenied`, so a
//! client must ask `transcripturl` again.

use super::catalogue::TOPICS;
use super::org::Conversation;
use super::permissions::{RECORDING_VIEW, STA_DATA};
use super::{paths, uuid_param};
use crate::access::Need;
use crate::respond::{missing, CorrelationId, Refused};
use crate::server::Shared;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pre-signed URLs kept (the oldest are forgotten first: a forgotten URL
/// answers 403 as an expired one does).
const URLS_KEPT: usize = 50_000;

/// The URLs issued and not yet forgotten: key → (conversation index, expiry).
#[derive(Debug, Default)]
pub(crate) struct Urls {
    by_key: HashMap<String, (usize, Instant)>,
    order: VecDeque<String>,
}

impl Urls {
    fn issue(&mut self, conversation: usize, expires: Instant) -> String {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let key = URL_SAFE_NO_PAD.encode(bytes);
        if self.order.len() == URLS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key.clone(), (conversation, expires));
        key
    }
}

/// `GET …/conversations/{conversationId}/communications/{communicationId}/transcripturl`.
pub(crate) async fn url(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path((conversation_id, communication_id)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let need = Need::All(&[RECORDING_VIEW, STA_DATA]);
    shared.authorize(&headers, &correlation, need)?;
    shared.api_latency().await;
    let (cid, comm) = (
        uuid_param("conversationId", &conversation_id, &correlation)?,
        uuid_param("communicationId", &communication_id, &correlation)?,
    );
    let Some(index) = shared.org.conversation_index(cid) else {
        return Err(missing(
            &format!("Conversation {conversation_id}"),
            &correlation,
        ));
    };
    if shared.org.conversations[index].communication_id != comm {
        return Err(missing(
            &format!("A transcript of communication {communication_id} in conversation {conversation_id}"),
            &correlation,
        ));
    }
    let lifetime = if shared.roll(shared.faults().transcript_url_expiries) {
        shared.count_fault(|s| s.transcript_urls_expired += 1);
        Duration::ZERO
    } else {
        shared.transcript_url_lifetime
    };
    let key = shared
        .urls
        .lock()
        .expect("urls lock")
        .issue(index, Instant::now() + lifetime);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let path = paths::TRANSCRIPT_STORE.replace("{key}", &key);
    let url = format!(
        "http://{host}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={}",
        lifetime.as_secs()
    );
    Ok(Json(json!({ "url": url })).into_response())
}

/// An S3-style XML error.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// `GET /transcript-store/{key}`: the pre-signed URL itself.
pub(crate) async fn fetch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        );
    }
    let issued = shared
        .urls
        .lock()
        .expect("urls lock")
        .by_key
        .get(&key)
        .copied();
    let Some((index, expires)) = issued else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired or its signature does not match",
        );
    };
    if Instant::now() >= expires {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    Json(transcript_json(
        &shared.org.conversations[index],
        shared.org.division_id,
    ))
    .into_response()
}

/// The transcript document (spec §2.2): one transcript of the agent's
/// communication, its phrases, the topics spotted (none when no program
/// covers the queue), and the two participants.
pub fn transcript_json(c: &Conversation, division: uuid::Uuid) -> Value {
    let phrases = c.phrases();
    let purpose = |agent: bool| if agent { "internal" } else { "external" };
    let phrase_json: Vec<Value> = phrases
        .iter()
        .map(|p| {
            json!({
                "phraseIndex": p.index,
                "participantPurpose": purpose(p.agent),
                "text": p.text,
                "decoratedText": p.text,
                "stability": 100,
                "confidence": 0.91,
                "offset": {"milliseconds": p.start_ms - c.start.unix_millis()},
                "startTimeMs": p.start_ms,
                "duration": {"milliseconds": p.duration_ms},
                "words": [],
                "alternatives": [],
                "type": "default",
            })
        })
        .collect();
    let topics: Vec<Value> = c
        .detections
        .iter()
        .map(|&(t, i)| {
            let p = &phrases[i as usize];
            json!({
                "participant": purpose(p.agent),
                "topicId": TOPICS[t].id,
                "topicName": TOPICS[t].name,
                "topicPhrase": TOPICS[t].phrase,
                "transcriptPhrase": p.text,
                "confidence": 87,
                "offset": {"milliseconds": p.start_ms - c.start.unix_millis()},
                "startTimeMs": p.start_ms,
                "duration": {"milliseconds": p.duration_ms},
                "type": "topic",
            })
        })
        .collect();
    let (start_ms, end_ms) = (c.start.unix_millis(), c.end.unix_millis());
    json!({
        "organizationId": division,
        "conversationId": c.id,
        "communicationId": c.communication_id,
        "mediaType": "call",
        "conversationStartTime": start_ms,
        "startTime": start_ms,
        "duration": {"milliseconds": end_ms - start_ms},
        "transcripts": [{
            "transcriptId": c.transcript_id,
            "language": "en-US",
            "programId": if c.covered { Value::from(super::catalogue::PROGRAM.0) } else { Value::Null },
            "engineId": "genesys",
            "startTime": start_ms,
            "duration": {"milliseconds": end_ms - start_ms},
            "phrases": phrase_json,
            "analytics": {"sentiment": [], "topics": topics, "acoustic": []},
        }],
        "participants": [
            {"participantPurpose": "internal", "userId": c.agent_id, "queueId": c.queue_id, "divisionId": division, "startTimeMs": start_ms, "endTimeMs": end_ms},
            {"participantPurpose": "external", "queueId": c.queue_id, "divisionId": division, "startTimeMs": start_ms, "endTimeMs": end_ms},
        ],
        "uri": format!("/api/v2/speechandtextanalytics/conversations/{}/communications/{}/transcripturl", c.id, c.communication_id),
    })
}
