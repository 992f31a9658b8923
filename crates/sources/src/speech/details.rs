//! Per chunk of conversations: their details (one multi-get) and the
//! transcripts of their recorded communications, through pre-signed URLs.

use super::wire::*;
use super::{Definitions, Fired, Inner, DETAILS, RECORDING, URL_ATTEMPTS};
use compliance_api::Violation;
use compliance_client::{Error, Presigned};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

impl Inner {
    /// The violations of a chunk of conversations, in the chunk's order.
    pub(super) async fn violations_of(
        &self,
        chunk: &[(String, Fired)],
    ) -> Result<Vec<Violation>, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::fixtures::detail;

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
