//! The simulated organisation's conversations and evaluations: generated from
//! a seed (same seed, same data), with the ground truth tests assert against
//! (which categories fired where, where the PII sits in each transcript,
//! which evaluation questions failed in the latest version, which evaluations
//! were rescored or retracted).
//!
//! A conversation is held compactly; its transcript is generated again from
//! the conversation's own seed whenever it is served, so that ten thousand
//! conversations cost a few megabytes, not a few hundred.

use super::catalogue::{
    FailsWhen, Form, QuestionKind, CARD_READ_BACK, CATEGORIES, COVERED_QUEUES, DEBT_DISCLOSURE,
    FORMS, FULL_SSN_REQUESTED, GREETING, GUARANTEE, MARKETING_CONSENT, RECORDING_DISCLOSURE,
    THREAT, TOPICS,
};
use crate::evidence::{evidence_text, PiiTruth};
use chrono::Duration as ChronoDuration;
use compliance_api::Timestamp;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use uuid::Uuid;

/// How often each topic's phrase is said in a conversation (the greeting always).
const SAID: [(usize, f64); 8] = [
    (GREETING, 1.0),
    (RECORDING_DISCLOSURE, 0.88),
    (DEBT_DISCLOSURE, 0.85),
    (CARD_READ_BACK, 0.07),
    (FULL_SSN_REQUESTED, 0.05),
    (THREAT, 0.03),
    (GUARANTEE, 0.03),
    (MARKETING_CONSENT, 0.2),
];

/// Share of conversations that get an evaluation, and of those, rescored and retracted ones.
const EVALUATED: f64 = 0.35;
const RESCORED: f64 = 0.15;
const RETRACTED: f64 = 0.05;

/// One voice conversation: a customer and an agent, one communication, one transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: Uuid,
    /// The agent's session id: the `communicationId` of the transcript and of `transcripturl`.
    pub communication_id: Uuid,
    pub customer_session_id: Uuid,
    pub agent_participant_id: Uuid,
    pub customer_participant_id: Uuid,
    pub transcript_id: Uuid,
    pub agent_id: Uuid,
    pub queue_id: Uuid,
    pub outbound: bool,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Whether the speech-analytics program covers its queue: only then are
    /// topics spotted and categories evaluated.
    pub covered: bool,
    /// Topics whose phrase was said (indices into [`TOPICS`]), whether or not spotted.
    pub said: Vec<usize>,
    /// Topics spotted, with the phrase index that detected each (empty when not covered).
    pub detections: Vec<(usize, u16)>,
    /// Categories that fired (indices into [`CATEGORIES`]; empty when not covered).
    pub categories: Vec<usize>,
    script_seed: u64,
}

/// One transcript phrase with the PII the generator put in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    pub index: u16,
    /// The agent (`internal` in the transcript) or the customer (`external`).
    pub agent: bool,
    pub text: String,
    /// Epoch milliseconds.
    pub start_ms: i64,
    pub duration_ms: i64,
    /// The topic whose phrase this is, if any.
    pub topic: Option<usize>,
    /// Where the PII sits in `text` (byte spans).
    pub pii: Vec<PiiTruth>,
}

/// An evaluation of one conversation, with its versions over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub id: Uuid,
    /// Index into [`Org::conversations`].
    pub conversation: usize,
    /// Index into [`FORMS`].
    pub form: usize,
    pub evaluator_id: Uuid,
    pub created: Timestamp,
    /// Oldest first: the first submission, then rescorings, then perhaps a retraction.
    pub versions: Vec<Version>,
}

/// What an evaluation says from `at` on.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub at: Timestamp,
    /// Per question of the form, in [`Form::questions`] order: answered "yes".
    pub passed: Vec<bool>,
    pub retracted: bool,
}

impl Evaluation {
    /// The version in force at `now`; `None` before the first submission.
    pub fn at(&self, now: Timestamp) -> Option<(usize, &Version)> {
        self.versions
            .iter()
            .enumerate()
            .rev()
            .find(|(_, v)| v.at <= now)
    }
    pub fn form(&self) -> &'static Form {
        &FORMS[self.form]
    }
}

/// The organisation: conversations sorted by start, evaluations by creation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Org {
    pub conversations: Vec<Conversation>,
    pub evaluations: Vec<Evaluation>,
    pub agents: Vec<Uuid>,
    pub queues: Vec<Uuid>,
    pub evaluators: Vec<Uuid>,
    pub division_id: Uuid,
    /// Positions by id, for the per-conversation endpoints.
    conversation_at: HashMap<Uuid, usize>,
    evaluation_at: HashMap<Uuid, usize>,
}

fn uuid_from(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

fn plus_ms(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_datetime(t.as_datetime() + ChronoDuration::milliseconds(ms))
}

impl Org {
    /// `n` conversations starting in `[start, end)` from `seed`: pure and deterministic.
    pub fn generate(seed: u64, n: usize, start: Timestamp, end: Timestamp) -> Org {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6765_6e65_7379_7321);
        let agents: Vec<Uuid> = (0..40).map(|_| uuid_from(&mut rng)).collect();
        let queues: Vec<Uuid> = (0..8).map(|_| uuid_from(&mut rng)).collect();
        let evaluators: Vec<Uuid> = (0..5).map(|_| uuid_from(&mut rng)).collect();
        let division_id = uuid_from(&mut rng);
        let span_ms = (end.unix_millis() - start.unix_millis()).max(1);
        let mut offsets: Vec<i64> = (0..n).map(|_| rng.gen_range(0..span_ms)).collect();
        offsets.sort_unstable();
        let mut conversations = Vec::with_capacity(n);
        let mut evaluations = Vec::new();
        for offset in offsets {
            let c = conversation(&mut rng, plus_ms(start, offset), &agents, &queues);
            if rng.gen_bool(EVALUATED) {
                evaluations.push(evaluation(&mut rng, conversations.len(), &c, &evaluators));
            }
            conversations.push(c);
        }
        evaluations.sort_by_key(|e| (e.created, e.id));
        let conversation_at = conversations
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let evaluation_at = evaluations
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i))
            .collect();
        Org {
            conversations,
            evaluations,
            agents,
            queues,
            evaluators,
            division_id,
            conversation_at,
            evaluation_at,
        }
    }

    /// The conversation with `id`.
    pub fn conversation(&self, id: Uuid) -> Option<&Conversation> {
        self.conversation_index(id).map(|i| &self.conversations[i])
    }

    /// Where the conversation with `id` is in [`Org::conversations`].
    pub fn conversation_index(&self, id: Uuid) -> Option<usize> {
        self.conversation_at.get(&id).copied()
    }

    /// The evaluation with `id`.
    pub fn evaluation(&self, id: Uuid) -> Option<&Evaluation> {
        self.evaluation_at.get(&id).map(|&i| &self.evaluations[i])
    }

    /// Ground truth: every (conversation id, category id) pair that fired.
    pub fn category_hits(&self) -> Vec<(Uuid, &'static str)> {
        self.conversations
            .iter()
            .flat_map(|c| c.categories.iter().map(|&k| (c.id, CATEGORIES[k].id)))
            .collect()
    }

    /// Ground truth: every (conversation id, topic id) pair that was spotted.
    pub fn topic_hits(&self) -> Vec<(Uuid, &'static str)> {
        self.conversations
            .iter()
            .flat_map(|c| c.detections.iter().map(|&(t, _)| (c.id, TOPICS[t].id)))
            .collect()
    }

    /// Ground truth: (evaluation id, question id, kind) of every question
    /// answered "no" in the version in force at `now`, retracted evaluations left out.
    pub fn failed_questions(&self, now: Timestamp) -> Vec<(Uuid, &'static str, QuestionKind)> {
        let mut failed = Vec::new();
        for e in &self.evaluations {
            let Some((_, v)) = e.at(now).filter(|(_, v)| !v.retracted) else {
                continue;
            };
            for ((_, q), passed) in e.form().questions().zip(&v.passed) {
                if !passed {
                    failed.push((e.id, q.id, q.kind));
                }
            }
        }
        failed
    }

    /// Ground truth: evaluations rescored (a version after the first that is
    /// not a retraction) by `now`.
    pub fn rescored(&self, now: Timestamp) -> Vec<Uuid> {
        self.evaluations
            .iter()
            .filter(|e| e.versions[1..].iter().any(|v| !v.retracted && v.at <= now))
            .map(|e| e.id)
            .collect()
    }

    /// Ground truth: evaluations retracted by `now`.
    pub fn retracted(&self, now: Timestamp) -> Vec<Uuid> {
        self.evaluations
            .iter()
            .filter(|e| e.at(now).is_some_and(|(_, v)| v.retracted))
            .map(|e| e.id)
            .collect()
    }
}

fn conversation(
    rng: &mut ChaCha8Rng,
    start: Timestamp,
    agents: &[Uuid],
    queues: &[Uuid],
) -> Conversation {
    let id = uuid_from(rng);
    let communication_id = uuid_from(rng);
    let customer_session_id = uuid_from(rng);
    let agent_participant_id = uuid_from(rng);
    let customer_participant_id = uuid_from(rng);
    let transcript_id = uuid_from(rng);
    let agent_id = *agents.choose(rng).expect("agents");
    let queue = rng.gen_range(0..queues.len());
    let outbound = rng.gen_bool(0.3);
    let said: Vec<usize> = SAID
        .iter()
        .filter(|&&(_, p)| rng.gen_bool(p))
        .map(|&(t, _)| t)
        .collect();
    let script_seed = rng.gen();
    let script = structure(script_seed, start, &said);
    let last = script.last().expect("a script has phrases");
    let end = plus_ms(
        start,
        last.start_ms - start.unix_millis() + last.duration_ms + rng.gen_range(1_000..20_000),
    );
    let covered = queue < COVERED_QUEUES;
    let detections: Vec<(usize, u16)> = if covered {
        script
            .iter()
            .filter_map(|p| p.topic.map(|t| (t, p.index)))
            .collect()
    } else {
        Vec::new()
    };
    let categories = if covered {
        let detected = |t: usize| detections.iter().any(|&(d, _)| d == t);
        (0..CATEGORIES.len())
            .filter(|&k| CATEGORIES[k].criteria.fires(detected))
            .collect()
    } else {
        Vec::new()
    };
    Conversation {
        id,
        communication_id,
        customer_session_id,
        agent_participant_id,
        customer_participant_id,
        transcript_id,
        agent_id,
        queue_id: queues[queue],
        outbound,
        start,
        end,
        covered,
        said,
        detections,
        categories,
        script_seed,
    }
}

/// The phrases' speakers, topics and timing (no text): cheap, so the
/// dataset knows each conversation's end and detections without its text.
fn structure(seed: u64, start: Timestamp, said: &[usize]) -> Vec<Phrase> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: u16 = rng.gen_range(8..=18);
    // Greeting first, the disclosures next, other topics anywhere after.
    let mut topic_at: Vec<Option<usize>> = vec![None; n as usize];
    let fixed = [
        (GREETING, 0),
        (RECORDING_DISCLOSURE, 1),
        (DEBT_DISCLOSURE, 2),
    ];
    for (t, at) in fixed {
        if said.contains(&t) {
            topic_at[at] = Some(t);
        }
    }
    for &t in said.iter().filter(|t| !fixed.iter().any(|(f, _)| f == *t)) {
        let free: Vec<usize> = (3..n as usize).filter(|&i| topic_at[i].is_none()).collect();
        if let Some(&i) = free.choose(&mut rng) {
            topic_at[i] = Some(t);
        }
    }
    let mut clock = start.unix_millis() + rng.gen_range(2_000..8_000);
    (0..n)
        .map(|index| {
            let topic = topic_at[index as usize];
            // Topics are the agent's words; the rest alternate, the agent first.
            let agent = topic.is_some() || index % 2 == 0;
            let duration_ms = rng.gen_range(1_500..9_000);
            let phrase = Phrase {
                index,
                agent,
                text: String::new(),
                start_ms: clock,
                duration_ms,
                topic,
                pii: Vec::new(),
            };
            clock += duration_ms + rng.gen_range(200..3_000);
            phrase
        })
        .collect()
}

impl Conversation {
    /// The transcript's phrases with their text and PII ground truth,
    /// generated again from the conversation's seed (the same every time).
    pub fn phrases(&self) -> Vec<Phrase> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.script_seed ^ 0x7465_7874);
        let mut phrases = structure(self.script_seed, self.start, &self.said);
        for p in &mut phrases {
            let (text, pii) = match p.topic {
                // The topic's phrase, then perhaps more (a card number read back...).
                Some(t) => {
                    let mut text = capitalised(TOPICS[t].phrase);
                    let mut pii = Vec::new();
                    if rng.gen_bool(0.6) {
                        let (more, truths) = evidence_text(&mut rng);
                        let shift = text.len() + 2;
                        text.push_str(". ");
                        text.push_str(&more);
                        pii.extend(truths.into_iter().map(|t| PiiTruth {
                            start: t.start + shift,
                            end: t.end + shift,
                            ..t
                        }));
                    }
                    (text, pii)
                }
                None => evidence_text(&mut rng),
            };
            p.text = text;
            p.pii = pii;
        }
        phrases
    }

    /// Ground truth: the PII of every phrase, by phrase index (phrases without any left out).
    pub fn pii(&self) -> Vec<(u16, Vec<PiiTruth>)> {
        self.phrases()
            .into_iter()
            .filter(|p| !p.pii.is_empty())
            .map(|p| (p.index, p.pii))
            .collect()
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn evaluation(
    rng: &mut ChaCha8Rng,
    index: usize,
    c: &Conversation,
    evaluators: &[Uuid],
) -> Evaluation {
    let id = uuid_from(rng);
    let form = if rng.gen_bool(0.8) { 0 } else { 1 };
    let evaluator_id = *evaluators.choose(rng).expect("evaluators");
    const DAY_MS: i64 = 86_400_000;
    // Evaluated one to five days after the call, submitted within hours.
    let created = plus_ms(c.end, rng.gen_range(DAY_MS..5 * DAY_MS));
    let first = plus_ms(created, rng.gen_range(600_000..14_400_000));
    let said = |t: usize| c.said.contains(&t);
    let passed: Vec<bool> = FORMS[form]
        .questions()
        .map(|(_, q)| match q.fails_when {
            FailsWhen::Missing(t) => said(t),
            FailsWhen::Said(ts) => !ts.iter().any(|&t| said(t)),
            FailsWhen::Chance => rng.gen_bool(0.85),
        })
        .collect();
    let mut versions = vec![Version {
        at: first,
        passed,
        retracted: false,
    }];
    if rng.gen_bool(RESCORED) {
        // A reviewer changes one fatal or critical answer, days later.
        let last = versions.last().expect("a first version");
        let mut passed = last.passed.clone();
        let weighty: Vec<usize> = FORMS[form]
            .questions()
            .enumerate()
            .filter(|(_, (_, q))| q.kind != QuestionKind::Plain)
            .map(|(i, _)| i)
            .collect();
        let flip = *weighty
            .choose(rng)
            .expect("every form has weighty questions");
        passed[flip] = !passed[flip];
        versions.push(Version {
            at: plus_ms(last.at, rng.gen_range(DAY_MS..4 * DAY_MS)),
            passed,
            retracted: false,
        });
    }
    if rng.gen_bool(RETRACTED) {
        let last = versions.last().expect("a first version");
        versions.push(Version {
            at: plus_ms(last.at, rng.gen_range(DAY_MS..3 * DAY_MS)),
            passed: last.passed.clone(),
            retracted: true,
        });
    }
    Evaluation {
        id,
        conversation: index,
        form,
        evaluator_id,
        created,
        versions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: usize) -> Org {
        let start = "2023-10-01T00:00:00Z".parse().unwrap();
        let end = "2023-10-02T00:00:00Z".parse().unwrap();
        Org::generate(42, n, start, end)
    }

    #[test]
    fn the_same_seed_gives_the_same_organisation_and_transcripts() {
        let (a, b) = (day(300), day(300));
        assert_eq!(a, b);
        assert_eq!(a.conversations[7].phrases(), b.conversations[7].phrases());
        assert_ne!(a.conversations[7].phrases(), a.conversations[8].phrases());
    }

    #[test]
    fn only_covered_conversations_have_detections_and_categories() {
        let org = day(2_000);
        let covered = org.conversations.iter().filter(|c| c.covered).count();
        assert!((1_300..1_700).contains(&covered), "{covered}");
        for c in &org.conversations {
            if !c.covered {
                assert!(c.detections.is_empty() && c.categories.is_empty());
            }
            assert!(c.start < c.end);
        }
        for (k, category) in CATEGORIES.iter().enumerate() {
            let n = org
                .conversations
                .iter()
                .filter(|c| c.categories.contains(&k))
                .count();
            assert!(n > 10, "{} fired {n} times", category.name);
        }
    }

    #[test]
    fn an_inverted_category_fires_exactly_when_its_topic_was_not_detected() {
        let org = day(1_000);
        for c in org.conversations.iter().filter(|c| c.covered) {
            let disclosure = c.detections.iter().any(|&(t, _)| t == RECORDING_DISCLOSURE);
            assert_eq!(c.categories.contains(&0), !disclosure, "{c:?}");
        }
    }

    #[test]
    fn detections_point_at_the_phrase_that_says_the_topic_and_pii_truth_into_each_text() {
        let org = day(300);
        let (mut spoken, mut pii) = (0, 0);
        for c in &org.conversations {
            let phrases = c.phrases();
            for &(t, i) in &c.detections {
                let p = &phrases[i as usize];
                assert!(p.agent && p.text.to_lowercase().starts_with(TOPICS[t].phrase));
            }
            for p in &phrases {
                for t in &p.pii {
                    assert!(t.start < t.end && t.end <= p.text.len());
                    assert!(p.text.is_char_boundary(t.start) && p.text.is_char_boundary(t.end));
                    spoken += usize::from(t.spoken);
                    pii += 1;
                }
            }
            assert!(phrases
                .windows(2)
                .all(|w| w[0].start_ms + w[0].duration_ms < w[1].start_ms));
            assert!(phrases.last().unwrap().start_ms < c.end.unix_millis());
        }
        assert!(pii > 100 && spoken > 5, "{pii} PII, {spoken} spoken");
    }

    #[test]
    fn evaluations_arrive_days_late_and_some_are_rescored_or_retracted() {
        let org = day(3_000);
        let n = org.evaluations.len();
        assert!((900..1_200).contains(&n), "{n}");
        for e in &org.evaluations {
            let c = &org.conversations[e.conversation];
            let late = e.versions[0].at.unix_millis() - c.end.unix_millis();
            assert!(late >= 86_400_000, "{late}");
            assert!(e.versions.windows(2).all(|w| w[0].at < w[1].at));
        }
        let later: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let before: Timestamp = "2023-10-01T00:00:00Z".parse().unwrap();
        assert!(org.rescored(later).len() > 50 && org.retracted(later).len() > 10);
        assert!(org.rescored(before).is_empty() && org.retracted(before).is_empty());
        assert!(org.failed_questions(before).is_empty());
        let failed = org.failed_questions(later);
        assert!(failed.iter().any(|f| f.2 == QuestionKind::Kill));
        assert!(failed.iter().any(|f| f.2 == QuestionKind::Critical));
        let retracted = org.retracted(later);
        assert!(failed.iter().all(|f| !retracted.contains(&f.0)));
    }
}
