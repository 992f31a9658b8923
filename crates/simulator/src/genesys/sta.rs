//! Speech & Text Analytics definitions and per-conversation data (spec §2.1,
//! §2.4): topics (page size ≤ 500, `pageNumber` or `nextPage`, `ids` ≤ 50),
//! categories (page size ≤ 25), a conversation's categories (page size ≤ 50)
//! and a conversation's analytics details.

use super::catalogue::{Category, Criteria, Topic, CATEGORIES, PROGRAM, TOPICS};
use super::org::Conversation;
use super::permissions::*;
use super::{numbered_page, paths, uuid_param, Params};
use crate::access::Need;
use crate::respond::{bad_request, missing, CorrelationId, Refused};
use crate::server::Shared;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// When the catalogue was last changed (its definitions are constants).
const DEFINED: &str = "2023-09-01T08:00:00.000Z";

fn topic_json(t: &Topic, full: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "published": true,
        "strictness": "72",
        "tags": t.tags,
        "dialect": "en-US",
        "participants": t.participants,
        "dateModified": DEFINED,
        "selfUri": format!("{}/{}", paths::TOPICS, t.id),
    });
    if full {
        v["matchingType"] = "Lexical".into();
        v["programs"] = json!([{"id": PROGRAM.0, "name": PROGRAM.1}]);
        v["phrases"] = json!([{"text": t.phrase, "strictness": "72", "sentiment": "Unspecified", "isAIGenerated": false}]);
    } else {
        v["programsCount"] = 1.into();
        v["phrasesCount"] = 1.into();
    }
    v
}

fn operand(topic: usize, inverted: bool) -> Value {
    json!({"type": "Topic", "topicId": TOPICS[topic].id, "occurrence": 1, "inverted": inverted})
}

/// A category's criteria as the SDK's `Operand`.
fn criteria_json(c: Criteria) -> Value {
    match c {
        Criteria::Topic(t) => operand(t, false),
        Criteria::NotTopic(t) => operand(t, true),
        Criteria::AnyOf(ts) => {
            let n = ts.len();
            let operands: Vec<Value> = ts
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    let mut o = operand(t, false);
                    if i + 1 < n {
                        o["infixOperator"] = json!({"operatorType": "Or"});
                    }
                    o
                })
                .collect();
            json!({"type": "OperandGroup", "inverted": false, "operands": operands})
        }
    }
}

fn category_json(c: &Category) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "interactionType": "Voice",
        "criteria": criteria_json(c.criteria),
        "dateCreated": DEFINED,
        "dateModified": DEFINED,
        "selfUri": format!("{}/{}", paths::CATEGORIES, c.id),
    })
}

/// `GET /api/v2/speechandtextanalytics/topics`.
pub(crate) async fn topics(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[TOPIC_VIEW]))?;
    shared.api_latency().await;
    let params = Params::parse(query.as_deref());
    let size = params.number("pageSize", 20, 500, &correlation)?;
    let ids = params.all("ids");
    if ids.len() > 50 {
        return Err(bad_request(
            "ids",
            &format!("ids lists {}; allowed: at most 50.", ids.len()),
            &correlation,
        ));
    }
    if !ids.is_empty()
        && ["name", "nextPage", "pageNumber", "state", "dialects"]
            .iter()
            .any(|p| params.one(p).is_some())
    {
        return Err(bad_request(
            "ids",
            "ids cannot be combined with other filters or paging.",
            &correlation,
        ));
    }
    // `nextPage` is the key a previous page's nextUri carried: the page number, opaque to clients.
    let number = match params.one("nextPage") {
        Some(key) => match key.strip_prefix("p").and_then(|n| n.parse::<u32>().ok()).filter(|&n| n >= 1) {
            Some(n) => n,
            None => return Err(bad_request("nextPage", &format!("nextPage `{key}` is not a key this server issued; use the nextUri of the previous page."), &correlation)),
        },
        None => params.number("pageNumber", 1, u32::MAX, &correlation)?,
    };
    let name = params.one("name").map(str::to_lowercase);
    let entities: Vec<Value> = TOPICS
        .iter()
        .filter(|t| ids.is_empty() || ids.iter().any(|id| id == t.id))
        .filter(|t| {
            name.as_ref()
                .is_none_or(|n| t.name.to_lowercase().contains(n))
        })
        .map(|t| topic_json(t, false))
        .collect();
    let total = entities.len();
    let pages = total.div_ceil(size as usize).max(1);
    let page: Vec<Value> = entities
        .into_iter()
        .skip((number as usize - 1) * size as usize)
        .take(size as usize)
        .collect();
    let mut body = json!({
        "entities": page,
        "pageSize": size,
        "total": total,
        "pageCount": pages,
        "selfUri": paths::TOPICS,
    });
    if (number as usize) < pages {
        body["nextUri"] =
            format!("{}?pageSize={size}&nextPage=p{}", paths::TOPICS, number + 1).into();
    }
    Ok(Json(body).into_response())
}

/// `GET /api/v2/speechandtextanalytics/topics/{topicId}`.
pub(crate) async fn topic(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[TOPIC_VIEW]))?;
    shared.api_latency().await;
    uuid_param("topicId", &id, &correlation)?;
    let t = TOPICS.iter().find(|t| t.id == id);
    let t = t.ok_or_else(|| missing(&format!("Topic {id}"), &correlation))?;
    Ok(Json(topic_json(t, true)).into_response())
}

/// `GET /api/v2/speechandtextanalytics/categories`.
pub(crate) async fn categories(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[CATEGORY_VIEW]))?;
    shared.api_latency().await;
    let params = Params::parse(query.as_deref());
    let (size, number) = (
        params.number("pageSize", 25, 25, &correlation)?,
        params.number("pageNumber", 1, u32::MAX, &correlation)?,
    );
    let ids = params.all("ids");
    if ids.len() > 25 {
        return Err(bad_request(
            "ids",
            &format!("ids lists {}; allowed: at most 25.", ids.len()),
            &correlation,
        ));
    }
    let entities = CATEGORIES
        .iter()
        .filter(|c| ids.is_empty() || ids.iter().any(|id| id == c.id))
        .map(category_json)
        .collect();
    Ok(Json(numbered_page(entities, size, number, paths::CATEGORIES)).into_response())
}

/// The conversation at `id`, or the response to send (400 not a UUID, 404 unknown).
fn find<'a>(shared: &'a Shared, id: &str, correlation: &str) -> Result<&'a Conversation, Refused> {
    let uuid = uuid_param("conversationId", id, correlation)?;
    shared
        .org
        .conversation(uuid)
        .ok_or_else(|| missing(&format!("Conversation {id}"), correlation))
}

/// `GET /api/v2/speechandtextanalytics/conversations/{conversationId}/categories`.
pub(crate) async fn conversation_categories(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[STA_DATA]))?;
    shared.api_latency().await;
    let params = Params::parse(query.as_deref());
    let (size, number) = (
        params.number("pageSize", 25, 50, &correlation)?,
        params.number("pageNumber", 1, u32::MAX, &correlation)?,
    );
    let c = find(&shared, &id, &correlation)?;
    let entities = c
        .categories
        .iter()
        .map(|&k| {
            let mut v = category_json(&CATEGORIES[k]);
            let o = v.as_object_mut().expect("an object");
            // ConversationCategory has only these fields.
            o.retain(|k, _| {
                ["id", "name", "description", "interactionType", "criteria"].contains(&k.as_str())
            });
            v
        })
        .collect();
    let path = paths::CONVERSATION_CATEGORIES.replace("{conversation_id}", &id);
    Ok(Json(numbered_page(entities, size, number, &path)).into_response())
}

/// `GET /api/v2/analytics/conversations/{conversationId}/details`.
pub(crate) async fn details(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let need = Need::Any(&[CONVERSATION_DETAIL, AGENT_CONVERSATION_DETAIL]);
    shared.authorize(&headers, &correlation, need)?;
    shared.api_latency().await;
    let c = find(&shared, &id, &correlation)?;
    Ok(Json(details_json(c, shared.org.division_id)).into_response())
}

/// `AnalyticsConversation`: a customer and an agent participant, one voice
/// session each; the agent's session id is the transcript's communication id.
pub(crate) fn details_json(c: &Conversation, division: uuid::Uuid) -> Value {
    let (start, end) = (c.start.to_string(), c.end.to_string());
    let direction = if c.outbound { "outbound" } else { "inbound" };
    // Alerting for a few seconds, then talking until the call ends, then wrap-up.
    let talk = compliance_api::Timestamp::from_datetime(
        c.start.as_datetime() + chrono::Duration::milliseconds(1_500),
    )
    .to_string();
    json!({
        "conversationId": c.id,
        "conversationStart": start,
        "conversationEnd": end,
        "originatingDirection": direction,
        "divisionIds": [division],
        "mediaStatsMinConversationMos": 4.4,
        "participants": [
            {
                "participantId": c.customer_participant_id,
                "purpose": "customer",
                "sessions": [{
                    "sessionId": c.customer_session_id,
                    "mediaType": "voice",
                    "direction": direction,
                    "segments": [
                        {"segmentStart": start, "segmentEnd": end, "segmentType": "interact", "queueId": c.queue_id}
                    ]
                }]
            },
            {
                "participantId": c.agent_participant_id,
                "purpose": "agent",
                "userId": c.agent_id,
                "sessions": [{
                    "sessionId": c.communication_id,
                    "mediaType": "voice",
                    "direction": direction,
                    "recording": true,
                    "segments": [
                        {"segmentStart": start, "segmentEnd": talk, "segmentType": "alert", "queueId": c.queue_id},
                        {"segmentStart": talk, "segmentEnd": end, "segmentType": "interact", "queueId": c.queue_id},
                        {"segmentStart": end, "segmentEnd": end, "segmentType": "wrapup", "queueId": c.queue_id, "wrapUpCode": "Resolved"}
                    ]
                }]
            }
        ]
    })
}
