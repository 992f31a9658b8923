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

mod definitions;
mod details;
mod discovery;
#[cfg(test)]
mod fixtures;
mod mapping;
pub mod wire;

use crate::jobs::{JobKind, Polling};
use crate::rules::SourceRules;
use crate::walk::{self, Discover};
use crate::{SetupError, SourceKind};
use compliance_api::{Filters, Severity, Violation};
use compliance_client::{Access, ApiClient, Error, Window};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

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

walk::derived_source!(SpeechAnalytics, SourceKind::SpeechAnalytics);

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
