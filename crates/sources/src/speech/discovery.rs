//! Discovery: which conversations of a window fired which rule, from
//! transcript aggregates (one query per category, one for all topics).

use super::wire::*;
use super::{Fired, Inner, Rule, AGGREGATES, AGGREGATES_JOB, AGGREGATES_QUERY};
use crate::jobs::{self, Polling, ResultsPage};
use compliance_client::{Error, Window};
use futures::future::BoxFuture;
use std::collections::BTreeMap;

impl Inner {
    /// The conversations of `window` that fired a rule, in id order.
    pub(super) async fn fired_in(&self, window: Window) -> Result<BTreeMap<String, Fired>, Error> {
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
}

impl ResultsPage for AggregateResponse {
    type Item = AggregateGroup;
    fn into_parts(self) -> (Vec<AggregateGroup>, Option<String>) {
        (self.results, self.cursor)
    }
}
