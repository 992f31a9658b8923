//! The rules' definitions, read once per run: categories (with their
//! criteria's topics) and topics.

use super::wire::*;
use super::{
    CategoryDef, Definitions, Inner, CATEGORIES, CATEGORY_IDS_PER_CALL, TOPICS, TOPIC_IDS_PER_CALL,
};
use compliance_client::Error;
use std::collections::BTreeSet;

impl Inner {
    /// Reads the rules' definitions once: which ids are categories (with
    /// their criteria's topics) and which are topics, and the topics' names.
    pub(super) async fn definitions(&self) -> Result<&Definitions, Error> {
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
}
