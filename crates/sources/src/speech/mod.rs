//! The `speech-analytics` source: violations derived from Genesys Cloud
//! Speech & Text Analytics (spec genesys-real-apis.md §2, §8).
//!
//! Rules are STA categories and topics (rules-file entries with
//! `source = "speech-analytics"`). Per window of the interval:
//! 1. discovery: which conversations fired which rule, from transcript
//!    aggregates (`POST /api/v2/analytics/transcripts/aggregates/jobs`, polled to
//!    `FULFILLED` and paged by cursor; the synchronous `/query` for windows of at
//!    most an hour): one query per rule category (filter `categoryId`), one for
//!    all rule topics (filter `topicId`, grouped by conversation and topic). This
//!    replaces a categories call per conversation;
//! 2. per chunk of conversations (in id order): their details in one multi-get
//!    (`GET /api/v2/analytics/conversations/details?id=a,b,…`: agent, queue,
//!    sessions), then per communication the transcript JSON through its
//!    pre-signed `transcripturl` (fetched without the bearer token; an expired
//!    URL is asked for again);
//! 3. a topic rule gives one violation per detection of the topic (evidence:
//!    the transcript phrase, participant, start/end ms); a category rule one
//!    violation per conversation (evidence: detections of the category's topics,
//!    and for each inverted topic a METADATA item saying it was not detected).
//!
//! Category and topic definitions are read once per run. A batch is one chunk
//! of conversations (see [`crate::walk`] for how a run resumes).

pub mod wire;

use crate::ids;
use crate::jobs::{self, JobKind, Polling, ResultsPage};
use crate::rules::SourceRules;
use crate::walk::{self, Discover};
use crate::{SetupError, Source, SourceKind};
use compliance_api::{Evidence, Filters, Severity, Timestamp, Violation};
use compliance_client::{
    Access, ApiClient, Batches, Error, Plan, Presigned, Query, Resume, Stats, Window,
};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use wire::*;

const NAME: &str = "speech-analytics";

/// The permissions the source's OAuth client needs (spec §2, §6).
pub const PERMISSIONS: &[&str] = &[
    AGGREGATES.permission,
    DETAILS.permission,
    CATEGORIES.permission,
    TOPICS.permission,
    DATA.permission,
    RECORDING.permission,
];

const AGGREGATES: Access = Access {
    permission: "analytics:speechAndTextAnalyticsAggregates:view",
    source: NAME,
};
const DETAILS: Access = Access {
    permission: "analytics:conversationDetail:view",
    source: NAME,
};
const CATEGORIES: Access = Access {
    permission: "speechAndTextAnalytics:category:view",
    source: NAME,
};
const TOPICS: Access = Access {
    permission: "speechAndTextAnalytics:topic:view",
    source: NAME,
};
const DATA: Access = Access {
    permission: "speechAndTextAnalytics:data:view",
    source: NAME,
};
/// `transcripturl` needs ALL of `recording:recording:view` and
/// `speechAndTextAnalytics:data:view`; a 403 names the first.
const RECORDING: Access = Access {
    permission: "recording:recording:view",
    source: NAME,
};

const AGGREGATES_QUERY: &str = "/api/v2/analytics/transcripts/aggregates/query";
const AGGREGATES_JOB: JobKind = JobKind {
    path: "/api/v2/analytics/transcripts/aggregates/jobs",
    what: "transcript aggregates",
    access: AGGREGATES,
};
/// The category listing's cap on `ids` (and its page size).
const CATEGORY_IDS_PER_CALL: usize = 25;
/// The topic listing's cap on `ids`.
const TOPIC_IDS_PER_CALL: usize = 50;

/// Transcript URLs asked for one communication before giving up: each is
/// fetched at once, so an expired one is rare, and several in a row mean a
/// clock or server fault.
const URL_ATTEMPTS: u32 = 8;

/// Tuning; the defaults suit the API's documented caps.
#[derive(Debug, Clone)]
pub struct SpeechConfig {
    /// Windows are at most this long (the job interval cap is undocumented;
    /// a week is what public clients use for analytics queries).
    pub max_window: chrono::Duration,
    /// Windows at most this long use the synchronous `/query`.
    pub sync_query_max: chrono::Duration,
    /// Conversations per batch, and per details multi-get.
    pub conversations_per_batch: usize,
    /// Conversations whose transcripts are fetched at once.
    pub concurrency: usize,
    /// Result rows per job results page.
    pub job_page_size: u32,
    /// The configured rate limit (the live one replaces it when lower).
    pub rate_limit_per_minute: u32,
    /// The first wait before a job's state is asked again (then doubling, to 5 s).
    pub first_poll: Duration,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            max_window: chrono::Duration::days(7),
            sync_query_max: chrono::Duration::hours(1),
            conversations_per_batch: 50,
            concurrency: 8,
            job_page_size: 1000,
            rate_limit_per_minute: 300,
            first_poll: Polling::default().first_wait,
        }
    }
}

/// The `speech-analytics` source.
#[derive(Clone)]
pub struct SpeechAnalytics {
    inner: Arc<Inner>,
}

struct Inner {
    client: ApiClient,
    config: SpeechConfig,
    /// Rule ids (canonical) → severity, only those the severity filter keeps.
    rules: BTreeMap<String, Severity>,
    agents: Option<BTreeSet<String>>,
    definitions: OnceCell<Definitions>,
    /// Whether the details multi-get is served (else one call per conversation):
    /// set false by its first 404, for the rest of the run.
    multi_get: AtomicBool,
}

/// What the rules are, read once per run.
#[derive(Debug, Default)]
struct Definitions {
    /// Rule categories: name, and the topics their criteria name (inverted or not).
    categories: BTreeMap<String, CategoryDef>,
    /// Rule topics.
    topics: BTreeSet<String>,
    /// Names of every topic involved.
    topic_names: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct CategoryDef {
    name: Option<String>,
    topics: Vec<(String, bool)>,
}

/// A rule that fired, as discovery reports it.
enum Rule {
    Category(String),
    Topic(String),
}

/// Which rules fired in one conversation.
#[derive(Debug, Clone, Default)]
struct Fired {
    categories: BTreeSet<String>,
    topics: BTreeSet<String>,
}

impl SpeechAnalytics {
    /// A source for `rules`, filtered by the query's filters; `client` carries
    /// the transport. A policy filter is refused: STA has no policies.
    pub fn new(
        client: ApiClient,
        rules: &SourceRules,
        filters: &Filters,
        config: SpeechConfig,
    ) -> Result<SpeechAnalytics, SetupError> {
        if filters.policy_ids.is_some() {
            return Err(SetupError::Unsupported {
                setting: "--policy-id",
                source_name: NAME,
                why: "Speech & Text Analytics has no policies; choose categories and topics in the rules file",
            });
        }
        let keep = |s: &Severity| filters.severity.as_ref().is_none_or(|set| set.contains(s));
        let rules = rules
            .iter()
            .filter_map(|r| Some((r.id.to_string(), r.severity?)))
            .filter(|(_, s)| keep(s))
            .collect();
        let agents = filters
            .agent_ids
            .as_ref()
            .map(|ids| ids.iter().map(|a| a.to_string()).collect());
        Ok(SpeechAnalytics {
            inner: Arc::new(Inner {
                client,
                config,
                rules,
                agents,
                definitions: OnceCell::new(),
                multi_get: AtomicBool::new(true),
            }),
        })
    }
}

impl Source for SpeechAnalytics {
    fn kind(&self) -> SourceKind {
        SourceKind::SpeechAnalytics
    }

    fn plan<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Plan, Error>> {
        Box::pin(walk::plan(&*self.inner, query))
    }

    fn fetch(&self, plan: Plan, resume: Resume) -> Batches {
        walk::walk(self.inner.clone(), plan, resume)
    }

    fn stats(&self) -> Arc<Stats> {
        self.inner.client.stats()
    }
}

impl Discover for Inner {
    type Found = Fired;
    fn discover(&self, window: Window) -> BoxFuture<'_, Result<Vec<(String, Fired)>, Error>> {
        Box::pin(async move { Ok(self.fired_in(window).await?.into_iter().collect()) })
    }
    fn violations<'a>(
        &'a self,
        chunk: &'a [(String, Fired)],
    ) -> BoxFuture<'a, Result<Vec<Violation>, Error>> {
        Box::pin(self.violations_of(chunk))
    }
    fn per_batch(&self) -> usize {
        self.config.conversations_per_batch
    }
    fn client(&self) -> &ApiClient {
        &self.client
    }
    fn max_window(&self) -> chrono::Duration {
        self.config.max_window
    }
    fn names(&self) -> (&'static str, &'static [&'static str]) {
        (NAME, &["platform.api", "speech.and.text.analytics"])
    }
    fn configured_rate(&self) -> u32 {
        self.config.rate_limit_per_minute
    }
}

impl Inner {
    /// Reads the rules' definitions once: which ids are categories (with
    /// their criteria's topics) and which are topics, and the topics' names.
    async fn definitions(&self) -> Result<&Definitions, Error> {
        self.definitions
            .get_or_try_init(|| async {
                let ids: Vec<String> = self.rules.keys().cloned().collect();
                let mut defs = Definitions::default();
                for chunk in ids.chunks(CATEGORY_IDS_PER_CALL) {
                    let joined = chunk.join(",");
                    let size = CATEGORY_IDS_PER_CALL.to_string();
                    let listing: Listing<StaCategory> = self
                        .client
                        .get(
                            "/api/v2/speechandtextanalytics/categories",
                            &[("ids", joined.as_str()), ("pageSize", size.as_str())],
                            CATEGORIES,
                        )
                        .await?;
                    for c in listing.entities.into_iter().filter(|c| chunk.contains(&c.id)) {
                        let topics = c.criteria.as_ref().map(Operand::topics).unwrap_or_default();
                        defs.categories.insert(
                            c.id.clone(),
                            CategoryDef {
                                name: c.name,
                                topics,
                            },
                        );
                    }
                }
                let rule_topics: Vec<String> = ids
                    .iter()
                    .filter(|id| !defs.categories.contains_key(*id))
                    .cloned()
                    .collect();
                let mut named: BTreeSet<String> = rule_topics.iter().cloned().collect();
                for c in defs.categories.values() {
                    named.extend(c.topics.iter().map(|(t, _)| t.clone()));
                }
                let named: Vec<String> = named.into_iter().collect();
                for chunk in named.chunks(TOPIC_IDS_PER_CALL) {
                    let joined = chunk.join(",");
                    let listing: Listing<ListedTopic> = self
                        .client
                        .get(
                            "/api/v2/speechandtextanalytics/topics",
                            &[("ids", joined.as_str())],
                            TOPICS,
                        )
                        .await?;
                    for t in listing.entities {
                        if let Some(name) = t.name {
                            defs.topic_names.insert(t.id, name);
                        }
                    }
                }
                let unknown: Vec<&String> = rule_topics
                    .iter()
                    .filter(|t| !defs.topic_names.contains_key(*t))
                    .collect();
                if !unknown.is_empty() {
                    let list: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
                    return Err(Error::Rejected {
                        status: 404,
                        code: "not.found".into(),
                        field: Some("rules".into()),
                        message: format!(
                            "the rules file names {} as speech-analytics rules, but the org has no \
                             category or topic with that id; check the ids in Speech & Text Analytics",
                            list.join(", ")
                        ),
                        correlation_id: None,
                    });
                }
                defs.topics = rule_topics.into_iter().collect();
                Ok(defs)
            })
            .await
    }

    /// The conversations of `window` that fired a rule, in id order.
    async fn fired_in(&self, window: Window) -> Result<BTreeMap<String, Fired>, Error> {
        let defs = self.definitions().await?;
        // One aggregation per rule category, and one for all rule topics, run
        // at once: most of a job's time is spent waiting for it.
        let by_category = defs.categories.keys().map(|category| {
            let predicates = vec![Predicate::matches("categoryId", category.clone())];
            let fut: BoxFuture<'_, _> = Box::pin(async move {
                let groups = self
                    .aggregate(window, vec!["conversationId"], predicates)
                    .await?;
                Ok::<_, Error>(
                    groups
                        .into_iter()
                        .filter_map(|g| g.group.get("conversationId").cloned())
                        .map(|cid| (cid, Rule::Category(category.clone())))
                        .collect::<Vec<_>>(),
                )
            });
            fut
        });
        let by_topic = (!defs.topics.is_empty()).then(|| {
            let predicates = defs
                .topics
                .iter()
                .map(|t| Predicate::matches("topicId", t.clone()))
                .collect();
            let fut: BoxFuture<'_, _> = Box::pin(async move {
                let groups = self
                    .aggregate(window, vec!["conversationId", "topicId"], predicates)
                    .await?;
                Ok(groups
                    .into_iter()
                    .filter_map(|g| {
                        let topic = g
                            .group
                            .get("topicId")
                            .filter(|t| defs.topics.contains(*t))?;
                        let cid = g.group.get("conversationId")?;
                        Some((cid.clone(), Rule::Topic(topic.clone())))
                    })
                    .collect())
            });
            fut
        });
        let all = futures::future::try_join_all(by_category.chain(by_topic)).await?;
        let mut found: BTreeMap<String, Fired> = BTreeMap::new();
        for (cid, rule) in all.into_iter().flatten() {
            let fired = found.entry(cid).or_default();
            match rule {
                Rule::Category(c) => fired.categories.insert(c),
                Rule::Topic(t) => fired.topics.insert(t),
            };
        }
        Ok(found)
    }

    /// The groups of one aggregation over `window`: synchronous for a short
    /// window, a job otherwise.
    async fn aggregate(
        &self,
        window: Window,
        group_by: Vec<&'static str>,
        predicates: Vec<Predicate>,
    ) -> Result<Vec<AggregateGroup>, Error> {
        let mut query = AggregationQuery {
            interval: format!("{}/{}", window.start, window.end),
            group_by,
            filter: QueryFilter {
                kind: "or",
                predicates,
            },
            metrics: vec!["nTopicCommunications"],
            page_size: None,
        };
        let length = window.end.as_datetime() - window.start.as_datetime();
        if length <= self.config.sync_query_max {
            let answer: AggregateResponse = self
                .client
                .post(AGGREGATES_QUERY, &query, AGGREGATES)
                .await?;
            return Ok(answer.results);
        }
        query.page_size = Some(self.config.job_page_size);
        jobs::run::<_, AggregateResponse>(
            &self.client,
            &AGGREGATES_JOB,
            &query,
            self.config.job_page_size,
            Polling {
                first_wait: self.config.first_poll,
                ..Polling::default()
            },
        )
        .await
    }

    /// The violations of a chunk of conversations, in the chunk's order.
    async fn violations_of(&self, chunk: &[(String, Fired)]) -> Result<Vec<Violation>, Error> {
        if chunk.is_empty() {
            return Ok(Vec::new());
        }
        let defs = self.definitions().await?;
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let mut details = self.details(&ids).await?;
        // Boxed one by one: a combinator over borrowed closures trips the
        // compiler's `Send` proof for the stream.
        let work: Vec<BoxFuture<'_, Result<Vec<Violation>, Error>>> = chunk
            .iter()
            .map(|(cid, fired)| {
                let detail = details.remove(cid);
                let fut: BoxFuture<'_, _> = Box::pin(async move {
                    let transcripts = match &detail {
                        Some(d) if needs_transcript(defs, fired) => {
                            self.transcripts(cid, d).await?
                        }
                        _ => Vec::new(),
                    };
                    Ok(self.build(defs, cid, fired, detail.as_ref(), &transcripts))
                });
                fut
            })
            .collect();
        let per_conversation: Vec<Vec<Violation>> = stream::iter(work)
            .buffered(self.config.concurrency.max(1))
            .try_collect()
            .await?;
        let mut out: Vec<Violation> = per_conversation.into_iter().flatten().collect();
        if let Some(agents) = &self.agents {
            out.retain(|v| v.agent_id.as_ref().is_some_and(|a| agents.contains(a)));
        }
        Ok(out)
    }

    /// The conversations' details: one multi-get, or (where the server does
    /// not serve it) one request per conversation.
    async fn details(&self, ids: &[&str]) -> Result<HashMap<String, AnalyticsConversation>, Error> {
        if self.multi_get.load(Ordering::Relaxed) {
            let joined = ids.join(",");
            match self
                .client
                .get::<ConversationsResponse>(
                    "/api/v2/analytics/conversations/details",
                    &[("id", joined.as_str())],
                    DETAILS,
                )
                .await
            {
                Ok(r) => {
                    return Ok(r
                        .conversations
                        .into_iter()
                        .map(|c| (c.conversation_id.clone(), c))
                        .collect())
                }
                Err(Error::Rejected {
                    status: 404 | 405, ..
                }) => {
                    tracing::info!("the details multi-get is not served; reading details one conversation at a time");
                    self.multi_get.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let work: Vec<BoxFuture<'_, Result<Option<AnalyticsConversation>, Error>>> = ids
            .iter()
            .map(|id| {
                let path = format!("/api/v2/analytics/conversations/{id}/details");
                let fut: BoxFuture<'_, _> = Box::pin(async move {
                    match self
                        .client
                        .get::<AnalyticsConversation>(&path, &[], DETAILS)
                        .await
                    {
                        Ok(c) => Ok(Some(c)),
                        Err(Error::Rejected { status: 404, .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                });
                fut
            })
            .collect();
        let all: Vec<Option<AnalyticsConversation>> = stream::iter(work)
            .buffered(self.config.concurrency.max(1))
            .try_collect()
            .await?;
        Ok(all
            .into_iter()
            .flatten()
            .map(|c| (c.conversation_id.clone(), c))
            .collect())
    }

    /// The transcript documents of a conversation's recorded communications.
    async fn transcripts(
        &self,
        cid: &str,
        detail: &AnalyticsConversation,
    ) -> Result<Vec<(String, TranscriptDocument)>, Error> {
        let mut out = Vec::new();
        for communication in communications(detail) {
            if let Some(doc) = self.transcript(cid, &communication).await? {
                out.push((communication, doc));
            }
        }
        Ok(out)
    }

    /// One communication's transcript, through a pre-signed URL; an expired
    /// URL is asked for again (twice at most). `None`: no transcript (404).
    async fn transcript(
        &self,
        cid: &str,
        communication: &str,
    ) -> Result<Option<TranscriptDocument>, Error> {
        let path = format!(
            "/api/v2/speechandtextanalytics/conversations/{cid}/communications/{communication}/transcripturl"
        );
        for _ in 0..URL_ATTEMPTS {
            let url: TranscriptUrl = match self.client.get(&path, &[], RECORDING).await {
                Ok(u) => u,
                Err(Error::Rejected { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            match self
                .client
                .presigned::<TranscriptDocument>(&url.url, "a transcript")
                .await?
            {
                Presigned::Body(doc) => return Ok(Some(doc)),
                Presigned::Expired => {
                    tracing::debug!(
                        conversation = cid,
                        communication,
                        "transcript URL expired; asking for a new one"
                    );
                }
            }
        }
        Err(Error::Internal(format!(
            "the transcript URLs of conversation {cid}, communication {communication} expired \
             {URL_ATTEMPTS} times right after they were issued; check the clock of this machine"
        )))
    }

    /// The violations of one conversation.
    fn build(
        &self,
        defs: &Definitions,
        cid: &str,
        fired: &Fired,
        detail: Option<&AnalyticsConversation>,
        transcripts: &[(String, TranscriptDocument)],
    ) -> Vec<Violation> {
        let context = Context::new(cid, detail, transcripts);
        let mut out = Vec::new();
        for topic in &fired.topics {
            let severity = self.rules[topic];
            for hit in context.detections(|t| t == topic) {
                let mut v = context.violation(
                    ids::derive(
                        NAME,
                        &[
                            cid,
                            &hit.communication,
                            topic,
                            &hit.transcript,
                            &hit.phrase_key,
                        ],
                    ),
                    topic,
                    defs.topic_names.get(topic).cloned(),
                    severity,
                    hit.at.unwrap_or(context.start),
                );
                v.communication_id = Some(hit.communication.clone());
                v.segment_reference = Some(hit.reference.clone());
                v.confidence = hit.confidence;
                v.evidence = Some(vec![hit.evidence.clone()]);
                out.push(v);
            }
        }
        for category in &fired.categories {
            let def = &defs.categories[category];
            let severity = self.rules[category];
            let wanted: BTreeSet<&str> = def
                .topics
                .iter()
                .filter(|(_, inverted)| !inverted)
                .map(|(t, _)| t.as_str())
                .collect();
            let hits = context.detections(|t| wanted.contains(t));
            let mut evidence: Vec<Evidence> = hits.iter().map(|h| h.evidence.clone()).collect();
            let name = def.name.clone().unwrap_or_else(|| category.clone());
            for (topic, _) in def.topics.iter().filter(|(_, inverted)| *inverted) {
                let topic_name = defs
                    .topic_names
                    .get(topic)
                    .map_or(topic.as_str(), String::as_str);
                evidence.push(Evidence {
                    kind: Evidence::METADATA.into(),
                    participant: None,
                    value: Some(format!(
                        "category \"{name}\" matched: topic \"{topic_name}\" ({topic}) was not detected"
                    )),
                    start_ms: None,
                    end_ms: None,
                    extra: Map::new(),
                });
            }
            let first = hits.first();
            let mut v = context.violation(
                ids::derive(NAME, &[cid, category]),
                category,
                Some(name),
                severity,
                first.and_then(|h| h.at).unwrap_or(context.start),
            );
            v.communication_id = first
                .map(|h| h.communication.clone())
                .or_else(|| transcripts.first().map(|(c, _)| c.clone()));
            v.segment_reference =
                Some(first.map_or_else(|| format!("conversation/{cid}"), |h| h.reference.clone()));
            v.evidence = Some(evidence);
            out.push(v);
        }
        out
    }
}

/// Whether a fired rule has phrases to show: a topic, or a category with a
/// topic that is not inverted. A category that fired only because topics were
/// missing has nothing to quote, and its transcript is not fetched.
fn needs_transcript(defs: &Definitions, fired: &Fired) -> bool {
    !fired.topics.is_empty()
        || fired.categories.iter().any(|c| {
            defs.categories
                .get(c)
                .is_some_and(|d| d.topics.iter().any(|(_, inverted)| !inverted))
        })
}

/// The sessions whose transcripts to read: the recorded ones, else the agents'.
fn communications(detail: &AnalyticsConversation) -> Vec<String> {
    let sessions = || {
        detail
            .participants
            .iter()
            .flat_map(|p| p.sessions.iter().map(move |s| (p, s)))
    };
    let mut picked: Vec<String> = sessions()
        .filter(|(_, s)| s.recording == Some(true))
        .map(|(_, s)| s.session_id.clone())
        .collect();
    if picked.is_empty() {
        picked = sessions()
            .filter(|(p, _)| p.purpose.as_deref() == Some("agent"))
            .map(|(_, s)| s.session_id.clone())
            .collect();
    }
    let mut seen = BTreeSet::new();
    picked.retain(|s| seen.insert(s.clone()));
    picked
}

/// A detection of a topic, ready to become evidence.
#[derive(Debug, Clone)]
struct Hit {
    communication: String,
    transcript: String,
    /// The phrase index, or `t<startTimeMs>` when no phrase holds it.
    phrase_key: String,
    reference: String,
    at: Option<Timestamp>,
    confidence: Option<f64>,
    evidence: Evidence,
}

/// What one conversation's details and transcripts say.
struct Context<'a> {
    cid: &'a str,
    agent: Option<String>,
    queue: Option<String>,
    start: Timestamp,
    transcripts: &'a [(String, TranscriptDocument)],
}

impl<'a> Context<'a> {
    fn new(
        cid: &'a str,
        detail: Option<&AnalyticsConversation>,
        transcripts: &'a [(String, TranscriptDocument)],
    ) -> Context<'a> {
        let agent_participant = detail.and_then(|d| {
            d.participants
                .iter()
                .find(|p| p.purpose.as_deref() == Some("agent") && p.user_id.is_some())
        });
        let from_transcript = |f: fn(&TranscriptParticipant) -> Option<&String>| {
            transcripts
                .iter()
                .flat_map(|(_, d)| &d.participants)
                .filter(|p| matches!(p.participant_purpose.as_deref(), Some("internal" | "agent")))
                .find_map(|p| f(p).cloned())
        };
        let agent = agent_participant
            .and_then(|p| p.user_id.clone())
            .or_else(|| from_transcript(|p| p.user_id.as_ref()));
        let queue = detail
            .into_iter()
            .flat_map(|d| &d.participants)
            .flat_map(|p| &p.sessions)
            .flat_map(|s| &s.segments)
            .find_map(|s| s.queue_id.clone())
            .or_else(|| from_transcript(|p| p.queue_id.as_ref()));
        let start = detail
            .and_then(|d| d.conversation_start.as_deref()?.parse().ok())
            .or_else(|| {
                let ms = transcripts
                    .iter()
                    .find_map(|(_, d)| d.conversation_start_time.or(d.start_time))?;
                epoch_ms(ms)
            })
            .unwrap_or_else(Timestamp::now);
        Context {
            cid,
            agent,
            queue,
            start,
            transcripts,
        }
    }

    fn violation(
        &self,
        id: String,
        rule: &str,
        rule_name: Option<String>,
        severity: Severity,
        detected_at: Timestamp,
    ) -> Violation {
        let mut extra = Map::new();
        extra.insert("source".into(), Value::from(NAME));
        Violation {
            id,
            conversation_id: Some(self.cid.to_string()),
            communication_id: None,
            agent_id: self.agent.clone(),
            queue_id: self.queue.clone(),
            policy_id: None,
            rule_id: rule.to_string(),
            rule_name,
            severity,
            detected_at,
            segment_reference: None,
            confidence: None,
            evidence: None,
            extra,
        }
    }

    /// Every detection of a topic `wanted` accepts, in transcript order.
    fn detections(&self, wanted: impl Fn(&str) -> bool) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (communication, doc) in self.transcripts {
            let origin = doc.start_time.or(doc.conversation_start_time);
            for t in &doc.transcripts {
                let Some(analytics) = &t.analytics else {
                    continue;
                };
                for d in analytics.topics.iter().filter(|d| wanted(&d.topic_id)) {
                    let phrase = d.start_time_ms.and_then(|at| phrase_at(&t.phrases, at));
                    let phrase_key = match (phrase, d.start_time_ms) {
                        (Some(i), _) => i.to_string(),
                        (None, Some(at)) => format!("t{at}"),
                        (None, None) => "unknown".into(),
                    };
                    let duration = duration_ms(&d.duration);
                    let start_ms = match (d.start_time_ms, origin) {
                        (Some(at), Some(o)) => Some(at - o),
                        _ => None,
                    };
                    let value = d
                        .transcript_phrase
                        .clone()
                        .or_else(|| d.topic_phrase.clone());
                    let mut extra = Map::new();
                    if let Some(p) = &d.topic_phrase {
                        extra.insert("topicPhrase".into(), Value::from(p.clone()));
                    }
                    extra.insert("topicId".into(), Value::from(d.topic_id.clone()));
                    hits.push(Hit {
                        communication: communication.clone(),
                        transcript: t.transcript_id.clone(),
                        reference: format!(
                            "conversation/{}/communication/{communication}/transcript/{}/phrase/{phrase_key}",
                            self.cid, t.transcript_id
                        ),
                        phrase_key,
                        at: d.start_time_ms.and_then(epoch_ms),
                        confidence: d.confidence.map(|c| if c > 1.0 { c / 100.0 } else { c }),
                        evidence: Evidence {
                            kind: Evidence::TRANSCRIPT.into(),
                            participant: d.participant.as_deref().map(participant),
                            value,
                            start_ms,
                            end_ms: start_ms.zip(duration).map(|(s, d)| s + d),
                            extra,
                        },
                    });
                }
            }
        }
        hits
    }
}

/// The index of the phrase that holds `at` (epoch ms).
fn phrase_at(phrases: &[Phrase], at: i64) -> Option<i64> {
    phrases.iter().enumerate().find_map(|(i, p)| {
        let start = p.start_time_ms?;
        let end = start + duration_ms(&p.duration).unwrap_or(0);
        (start <= at && (at < end || at == start)).then(|| p.phrase_index.unwrap_or(i as i64))
    })
}

/// A transcript participant purpose as the evidence names it.
fn participant(purpose: &str) -> String {
    match purpose.to_ascii_lowercase().as_str() {
        "internal" | "agent" => "AGENT".into(),
        "external" | "customer" => "CUSTOMER".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn epoch_ms(ms: i64) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms).map(Timestamp::from_datetime)
}

impl ResultsPage for AggregateResponse {
    type Item = AggregateGroup;
    fn into_parts(self) -> (Vec<AggregateGroup>, Option<String>) {
        (self.results, self.cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "11111111-1111-4111-8111-111111111111";
    const DISCLOSURE: &str = "22222222-2222-4222-8222-222222222222";
    const CATEGORY: &str = "33333333-3333-4333-8333-333333333333";

    fn inner() -> Inner {
        let endpoints = compliance_client::Endpoints {
            api: compliance_client::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
            login: compliance_client::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        };
        let credentials = compliance_client::Credentials {
            client_id: "x".into(),
            client_secret: "y".to_string().into(),
        };
        let client = ApiClient::new(compliance_client::TransportConfig::new(
            endpoints,
            credentials,
        ))
        .unwrap();
        Inner {
            client,
            config: SpeechConfig::default(),
            rules: [
                (TOPIC.to_string(), Severity::High),
                (CATEGORY.to_string(), Severity::Critical),
            ]
            .into_iter()
            .collect(),
            agents: None,
            definitions: OnceCell::new(),
            multi_get: AtomicBool::new(true),
        }
    }

    fn definitions() -> Definitions {
        Definitions {
            categories: [(
                CATEGORY.to_string(),
                CategoryDef {
                    name: Some("Disclosure not read".into()),
                    topics: vec![(DISCLOSURE.to_string(), true)],
                },
            )]
            .into_iter()
            .collect(),
            topics: [TOPIC.to_string()].into_iter().collect(),
            topic_names: [
                (TOPIC.to_string(), "Card read back".to_string()),
                (DISCLOSURE.to_string(), "Recording disclosure".to_string()),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn detail() -> AnalyticsConversation {
        serde_json::from_value(json!({
            "conversationId": "c1", "conversationStart": "2023-10-01T10:00:00.000Z",
            "participants": [
                {"participantId": "p1", "purpose": "customer", "sessions": [{"sessionId": "s-cust", "mediaType": "voice"}]},
                {"participantId": "p2", "purpose": "agent", "userId": "agent-1", "sessions": [
                    {"sessionId": "s-agent", "mediaType": "voice", "recording": true,
                     "segments": [{"segmentType": "interact", "queueId": "queue-1"}]}]}]
        }))
        .unwrap()
    }

    fn transcript() -> TranscriptDocument {
        // 2023-10-01T10:00:05Z = 1696154405000 ms.
        serde_json::from_value(json!({
            "conversationId": "c1", "communicationId": "s-agent", "startTime": 1696154405000i64,
            "transcripts": [{"transcriptId": "t1", "phrases": [
                {"phraseIndex": 0, "participantPurpose": "external", "text": "hello", "startTimeMs": 1696154406000i64, "duration": {"milliseconds": 1000}},
                {"phraseIndex": 1, "participantPurpose": "internal", "text": "your card is four one one one", "startTimeMs": 1696154410000i64, "duration": {"milliseconds": 3000}}],
              "analytics": {"topics": [{"participant": "internal", "topicId": TOPIC, "topicName": "Card read back",
                  "topicPhrase": "your card is", "transcriptPhrase": "your card is four one one one",
                  "confidence": 87, "startTimeMs": 1696154410000i64, "duration": {"milliseconds": 3000}}]}}]
        }))
        .unwrap()
    }

    #[test]
    fn a_topic_detection_and_a_category_with_a_missing_topic_become_violations() {
        let inner = inner();
        let fired = Fired {
            categories: [CATEGORY.to_string()].into_iter().collect(),
            topics: [TOPIC.to_string()].into_iter().collect(),
        };
        let transcripts = vec![("s-agent".to_string(), transcript())];
        let v = inner.build(&definitions(), "c1", &fired, Some(&detail()), &transcripts);
        assert_eq!(v.len(), 2);
        let topic = &v[0];
        assert_eq!(
            topic.id,
            ids::derive(NAME, &["c1", "s-agent", TOPIC, "t1", "1"])
        );
        assert_eq!(topic.rule_id, TOPIC);
        assert_eq!(topic.rule_name.as_deref(), Some("Card read back"));
        assert_eq!(topic.severity, Severity::High);
        assert_eq!(topic.detected_at.to_string(), "2023-10-01T10:00:10.000Z");
        assert_eq!(topic.agent_id.as_deref(), Some("agent-1"));
        assert_eq!(topic.queue_id.as_deref(), Some("queue-1"));
        assert_eq!(topic.communication_id.as_deref(), Some("s-agent"));
        assert_eq!(
            topic.segment_reference.as_deref(),
            Some("conversation/c1/communication/s-agent/transcript/t1/phrase/1")
        );
        assert_eq!(topic.confidence, Some(0.87));
        assert_eq!(topic.extra["source"], "speech-analytics");
        let e = &topic.evidence.as_ref().unwrap()[0];
        assert_eq!(e.kind, "TRANSCRIPT");
        assert_eq!(e.participant.as_deref(), Some("AGENT"));
        assert_eq!(e.value.as_deref(), Some("your card is four one one one"));
        assert_eq!((e.start_ms, e.end_ms), (Some(5000), Some(8000)));

        let category = &v[1];
        assert_eq!(category.id, ids::derive(NAME, &["c1", CATEGORY]));
        assert_eq!(category.severity, Severity::Critical);
        // Nothing was said for it: it happened at the conversation's start.
        assert_eq!(category.detected_at.to_string(), "2023-10-01T10:00:00.000Z");
        assert_eq!(
            category.segment_reference.as_deref(),
            Some("conversation/c1")
        );
        let e = category.evidence.as_ref().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, "METADATA");
        assert_eq!(
            e[0].value.as_deref(),
            Some(&*format!(
                "category \"Disclosure not read\" matched: topic \"Recording disclosure\" ({DISCLOSURE}) was not detected"
            ))
        );
        // The same inputs give the same records (ids included).
        assert_eq!(
            v,
            inner.build(&definitions(), "c1", &fired, Some(&detail()), &transcripts)
        );
    }

    #[test]
    fn recorded_sessions_are_read_else_the_agents() {
        assert_eq!(communications(&detail()), ["s-agent"]);
        let mut d = detail();
        d.participants[1].sessions[0].recording = None;
        assert_eq!(communications(&d), ["s-agent"]);
        d.participants[1].purpose = Some("acd".into());
        assert!(communications(&d).is_empty());
    }
}
