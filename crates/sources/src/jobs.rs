//! The lifecycle of an analytics asynchronous query (spec §2.3, §2.4): submit
//! (`POST …/jobs` → `{jobId}`), poll (`GET …/jobs/{id}` → `{state}`) until
//! `FULFILLED`, then page the results (`GET …/jobs/{id}/results?cursor=`).
//! A job that ends `FAILED`, `CANCELLED` or `EXPIRED` (or whose results are
//! gone) is submitted once more; a second such end is [`Error::JobFailed`].

use compliance_client::{Access, ApiClient, Error};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `AsyncQueryResponse`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    job_id: String,
}

/// `AsyncQueryStatus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    state: JobState,
    #[serde(default)]
    error_message: Option<String>,
}

/// `AsyncQueryStatus.state` (PY `async_query_status.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum JobState {
    Queued,
    Pending,
    Fulfilled,
    Failed,
    Cancelled,
    Expired,
    /// A state this version does not know: waited on like `PENDING`.
    #[serde(other)]
    Unknown,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Pending => "PENDING",
            JobState::Fulfilled => "FULFILLED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
            JobState::Expired => "EXPIRED",
            JobState::Unknown => "an unknown state",
        }
    }
}

/// A results page of a job: its items and the cursor of the next page.
pub(crate) trait ResultsPage: DeserializeOwned {
    /// The page's items.
    type Item;
    /// Takes the items and the next cursor (`None` on the last page).
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

/// One kind of job: where it lives and what it needs.
pub(crate) struct JobKind {
    /// `…/jobs`, such as `/api/v2/analytics/transcripts/aggregates/jobs`.
    pub path: &'static str,
    /// For messages: `transcript aggregates`.
    pub what: &'static str,
    pub access: Access,
}

/// How a job is waited for: polls start quickly and slow down to `max_wait`,
/// bounded by `max_polls` (a job still running then is an error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling {
    pub first_wait: Duration,
    pub max_wait: Duration,
    pub max_polls: u32,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
            max_polls: 1_000,
        }
    }
}

/// How one submission ended.
enum Outcome<T> {
    Done(Vec<T>),
    /// FAILED, CANCELLED, EXPIRED, or results gone: with the job id, state and message.
    Ended(String, &'static str, String),
}

/// Runs `body` as a job of `kind` and returns every result item, in the
/// order of the pages. Resubmits once after a bad end.
pub(crate) async fn run<B: Serialize, P: ResultsPage>(
    client: &ApiClient,
    kind: &JobKind,
    body: &B,
    page_size: u32,
    polling: Polling,
) -> Result<Vec<P::Item>, Error> {
    let mut last = None;
    for attempt in 1..=2 {
        match once::<B, P>(client, kind, body, page_size, polling).await? {
            Outcome::Done(items) => return Ok(items),
            Outcome::Ended(job, state, message) => {
                tracing::warn!(job = %job, state, attempt, "{} job ended {state}: {message}", kind.what);
                last = Some((job, state, message));
            }
        }
    }
    let (job, state, message) = last.expect("two attempts made");
    Err(Error::JobFailed {
        what: kind.what.to_string(),
        job,
        state: state.to_string(),
        message,
    })
}

async fn once<B: Serialize, P: ResultsPage>(
    client: &ApiClient,
    kind: &JobKind,
    body: &B,
    page_size: u32,
    polling: Polling,
) -> Result<Outcome<P::Item>, Error> {
    let submitted: Submitted = client.post(kind.path, body, kind.access).await?;
    let job = submitted.job_id;
    let status_path = format!("{}/{}", kind.path, job);
    let mut wait = polling.first_wait;
    let mut polls = 0;
    loop {
        let Some(status) = state(client, kind, &status_path).await? else {
            return Ok(Outcome::Ended(
                job,
                "EXPIRED",
                "the job is gone (404)".into(),
            ));
        };
        match status.state {
            JobState::Fulfilled => break,
            JobState::Failed | JobState::Cancelled | JobState::Expired => {
                let message = status.error_message.unwrap_or_else(|| "no message".into());
                return Ok(Outcome::Ended(job, status.state.as_str(), message));
            }
            JobState::Queued | JobState::Pending | JobState::Unknown => {}
        }
        polls += 1;
        compliance_client::crash_point("while-polling");
        if polls >= polling.max_polls {
            // Not done after every poll: cancel it, so that it stops costing the org.
            let _ = client.delete(&status_path, kind.access).await;
            return Ok(Outcome::Ended(
                job,
                "CANCELLED",
                format!("still {} after {polls} polls", status.state.as_str()),
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(polling.max_wait);
    }
    let results_path = format!("{status_path}/results");
    let size = page_size.to_string();
    let mut cursor: Option<String> = None;
    let mut items = Vec::new();
    // Bounded: a server that keeps handing out cursors is stopped.
    for _ in 0..100_000 {
        let mut query = vec![("pageSize", size.as_str())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let page: P = match client.get(&results_path, &query, kind.access).await {
            // Results refused mid-way: the job may have expired (or failed)
            // since it was fulfilled; its state says which.
            Err(
                e @ Error::Rejected {
                    status: 400 | 404, ..
                },
            ) => {
                let Some(status) = state(client, kind, &status_path).await? else {
                    return Ok(Outcome::Ended(
                        job,
                        "EXPIRED",
                        "the job is gone (404)".into(),
                    ));
                };
                match status.state {
                    JobState::Failed | JobState::Cancelled | JobState::Expired => {
                        let message = status.error_message.unwrap_or_else(|| e.to_string());
                        return Ok(Outcome::Ended(job, status.state.as_str(), message));
                    }
                    _ => return Err(e),
                }
            }
            other => other?,
        };
        let (mut got, next) = page.into_parts();
        items.append(&mut got);
        match next.filter(|c| !c.is_empty()) {
            Some(next) => cursor = Some(next),
            None => return Ok(Outcome::Done(items)),
        }
    }
    Err(Error::Internal(format!(
        "the {} job {job} handed out more than 100,000 result pages",
        kind.what
    )))
}

/// A job's status; `None` when the job is gone (404).
async fn state(client: &ApiClient, kind: &JobKind, path: &str) -> Result<Option<Status>, Error> {
    match client.get(path, &[], kind.access).await {
        Ok(status) => Ok(Some(status)),
        Err(Error::Rejected { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_parse_as_the_sdk_lists_them() {
        for (s, state) in [
            ("QUEUED", JobState::Queued),
            ("PENDING", JobState::Pending),
            ("FULFILLED", JobState::Fulfilled),
            ("FAILED", JobState::Failed),
            ("CANCELLED", JobState::Cancelled),
            ("EXPIRED", JobState::Expired),
            ("RUNNING_LATE", JobState::Unknown),
        ] {
            let status: Status =
                serde_json::from_str(&format!(r#"{{"state": "{s}", "submissionDate": "x"}}"#))
                    .unwrap();
            assert_eq!(status.state, state);
        }
        let s: Status =
            serde_json::from_str(r#"{"state": "FAILED", "errorMessage": "too big"}"#).unwrap();
        assert_eq!(s.error_message.as_deref(), Some("too big"));
        let j: Submitted = serde_json::from_str(r#"{"jobId": "j-1"}"#).unwrap();
        assert_eq!(j.job_id, "j-1");
    }
}
