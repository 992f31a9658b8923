//! The simulated organisation's fixed configuration: speech-analytics topics
//! and categories, the program that decides which queues get topic spotting,
//! and the evaluation forms with their fatal (kill) and critical questions.
//! The ids are constants, so rules files and tests can name them
//! (`deploy/rules.speech-analytics.example.toml`,
//! `deploy/rules.evaluations.example.toml`, `docs/simulator.md`).

/// A speech-analytics topic: a phrase the engine spots in transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The phrase that detects it (the topic's one phrase; agents say it verbatim).
    pub phrase: &'static str,
    /// `External`, `Internal` or `All`: whose speech is searched.
    pub participants: &'static str,
    pub tags: &'static [&'static str],
}

/// A category's criteria over the topics detected in a conversation
/// (served as the SDK's `Operand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criteria {
    /// The topic was detected.
    Topic(usize),
    /// The topic was NOT detected (`inverted: true`): a required phrase missing.
    NotTopic(usize),
    /// Any of the topics was detected (an `OperandGroup` joined by `Or`).
    AnyOf(&'static [usize]),
}

impl Criteria {
    /// Whether the category fires for a conversation whose detected topics are `detected`.
    pub fn fires(self, detected: impl Fn(usize) -> bool) -> bool {
        match self {
            Criteria::Topic(t) => detected(t),
            Criteria::NotTopic(t) => !detected(t),
            Criteria::AnyOf(ts) => ts.iter().any(|&t| detected(t)),
        }
    }
}

/// A speech-analytics category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub criteria: Criteria,
}

/// An evaluation form: question groups of yes/no questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    pub id: &'static str,
    /// Stays the same across versions of the form.
    pub context_id: &'static str,
    pub name: &'static str,
    pub groups: &'static [Group],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub id: &'static str,
    pub name: &'static str,
    pub questions: &'static [Question],
}

/// A yes/no question; "yes" scores 1 (the highest), "no" 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub id: &'static str,
    pub text: &'static str,
    pub kind: QuestionKind,
    /// How the simulated evaluator decides the answer from what was said.
    pub fails_when: FailsWhen,
    /// The answer option ids.
    pub yes: &'static str,
    pub no: &'static str,
}

/// `isKill` (fatal), `isCritical`, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionKind {
    Kill,
    Critical,
    Plain,
}

/// When the evaluator answers "no".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailsWhen {
    /// The topic's phrase was not said.
    Missing(usize),
    /// One of the topics' phrases was said.
    Said(&'static [usize]),
    /// Now and then, whatever was said.
    Chance,
}

/// How many of the dataset's queues the program covers.
pub const COVERED_QUEUES: usize = 6;

impl Form {
    /// Every question of the form, in order, with its group.
    pub fn questions(&self) -> impl Iterator<Item = (&'static Group, &'static Question)> + '_ {
        self.groups
            .iter()
            .flat_map(|g| g.questions.iter().map(move |q| (g, q)))
    }
}

// Topic indices into TOPICS.
pub const GREETING: usize = 0;
pub const RECORDING_DISCLOSURE: usize = 1;
pub const DEBT_DISCLOSURE: usize = 2;
pub const CARD_READ_BACK: usize = 3;
pub const FULL_SSN_REQUESTED: usize = 4;
pub const THREAT: usize = 5;
pub const GUARANTEE: usize = 6;
pub const MARKETING_CONSENT: usize = 7;

/// The organisation's topics (`GET /api/v2/speechandtextanalytics/topics`).
pub const TOPICS: [Topic; 8] = [
    Topic {
        id: "f1bc0f0c-e1a8-432e-9e3b-2e77e0b93daf",
        name: "Greeting",
        description: "The agent greets the caller.",
        phrase: "thank you for calling",
        participants: "Internal",
        tags: &["service"],
    },
    Topic {
        id: "fd2d2bb4-aad9-4e80-b599-61e56c3583b4",
        name: "Call recording disclosure",
        description: "The agent says the call is recorded.",
        phrase: "this call may be recorded for quality and training purposes",
        participants: "Internal",
        tags: &["compliance", "disclosure"],
    },
    Topic {
        id: "430a7866-5e12-43c7-9cb0-95dbf600084f",
        name: "Debt collection disclosure",
        description: "The agent reads the debt-collection notice (Mini-Miranda).",
        phrase: "this is an attempt to collect a debt and any information obtained will be used for that purpose",
        participants: "Internal",
        tags: &["compliance", "disclosure", "fdcpa"],
    },
    Topic {
        id: "84c5442e-efc6-475d-8bf0-9436d5462775",
        name: "Card number read back",
        description: "The agent reads a payment card number back to the caller.",
        phrase: "let me read your card number back to you",
        participants: "Internal",
        tags: &["compliance", "pci"],
    },
    Topic {
        id: "56fcc490-ee7d-4c52-9f68-96028fd2692a",
        name: "Full SSN requested",
        description: "The agent asks for the whole social security number.",
        phrase: "can you give me your full social security number",
        participants: "Internal",
        tags: &["compliance", "privacy"],
    },
    Topic {
        id: "d1f8df81-f311-4cc5-a9e0-af3328b9152b",
        name: "Threatening language",
        description: "The agent threatens the caller.",
        phrase: "we will take legal action against you today",
        participants: "Internal",
        tags: &["compliance", "conduct"],
    },
    Topic {
        id: "16a21c97-d221-4d99-b184-ff8e78c9e782",
        name: "Guaranteed outcome promised",
        description: "The agent promises an outcome it cannot guarantee.",
        phrase: "i can guarantee you will not lose any money",
        participants: "Internal",
        tags: &["compliance", "conduct"],
    },
    Topic {
        id: "42a1100c-41b7-4ced-addf-f41fe205c701",
        name: "Marketing consent asked",
        description: "The agent asks to contact the caller about offers.",
        phrase: "may we contact you about offers by email",
        participants: "Internal",
        tags: &["marketing"],
    },
];

/// The organisation's categories (`GET /api/v2/speechandtextanalytics/categories`).
pub const CATEGORIES: [Category; 6] = [
    Category {
        id: "7453dd0c-7737-4270-a37f-d70c5c0adc8e",
        name: "Recording disclosure not read",
        description: "Fires when the call-recording disclosure was NOT detected.",
        criteria: Criteria::NotTopic(RECORDING_DISCLOSURE),
    },
    Category {
        id: "c514d4cf-27d3-4e1f-819e-343e4eb203f7",
        name: "Debt collection disclosure not read",
        description: "Fires when the Mini-Miranda notice was NOT detected.",
        criteria: Criteria::NotTopic(DEBT_DISCLOSURE),
    },
    Category {
        id: "1ee2df96-8277-4361-8519-bacae5255352",
        name: "Card number read back",
        description: "The agent read a card number back.",
        criteria: Criteria::Topic(CARD_READ_BACK),
    },
    Category {
        id: "5305061d-3150-4241-8656-3679812ea096",
        name: "Full SSN requested",
        description: "The agent asked for the full SSN.",
        criteria: Criteria::Topic(FULL_SSN_REQUESTED),
    },
    Category {
        id: "1fb16fbd-40cf-43f1-ba02-8a1f4d7ae5e4",
        name: "Threats or guarantees",
        description: "Threatening language or a guaranteed outcome.",
        criteria: Criteria::AnyOf(&[THREAT, GUARANTEE]),
    },
    Category {
        id: "9b7e1fcb-e795-4ae4-8d94-dc48effe8325",
        name: "Marketing consent asked",
        description: "The agent asked for marketing consent (not a violation by itself).",
        criteria: Criteria::Topic(MARKETING_CONSENT),
    },
];

/// The one speech-analytics program (id, name): it covers the first
/// [`COVERED_QUEUES`] queues of the dataset; the others have no topic spotting.
pub const PROGRAM: (&str, &str) = ("1bcac025-5844-4d7d-b889-4270d110de9b", "Collections voice");

/// The evaluation forms (`GET /api/v2/quality/forms/evaluations/{formId}`).
pub const FORMS: [Form; 2] = [
    Form {
        id: "7175e2f5-cd60-4176-9e8f-c46f79f05dc9",
        context_id: "f4b33333-9f54-41cf-a9bd-30e5768b7116",
        name: "Collections call review",
        groups: &[
            Group {
                id: "cc975370-3b52-473e-84b3-ce43ac085d08",
                name: "Compliance",
                questions: &[
                    Question {
                        id: "13faf283-8dfc-47b3-bc93-32e2e17b794d",
                        text: "Was the call-recording disclosure read?",
                        kind: QuestionKind::Kill,
                        fails_when: FailsWhen::Missing(RECORDING_DISCLOSURE),
                        yes: "56210f53-6e1f-4437-9cf3-7d5fd4dad0d5",
                        no: "565e104c-f812-4817-a7ed-27e4fdd0d14f",
                    },
                    Question {
                        id: "f42585f2-7227-49ae-879b-62ef11b8eec2",
                        text: "Was the debt collection disclosure read?",
                        kind: QuestionKind::Kill,
                        fails_when: FailsWhen::Missing(DEBT_DISCLOSURE),
                        yes: "77df9329-74ed-4b98-a5d9-f9e2b345897b",
                        no: "8deca228-8f73-4a21-9e35-2abf3f811cb8",
                    },
                    Question {
                        id: "4e40304d-0450-4404-85ef-24b187446735",
                        text: "Was identity verified without asking for the full SSN?",
                        kind: QuestionKind::Critical,
                        fails_when: FailsWhen::Said(&[FULL_SSN_REQUESTED]),
                        yes: "625b8516-8c02-4404-a2d6-6fb561985197",
                        no: "38417423-3afe-4776-8be9-5c1d7472556f",
                    },
                    Question {
                        id: "503371a6-946f-4b5e-aac4-80a1f33edd40",
                        text: "Was card data kept out of the conversation?",
                        kind: QuestionKind::Critical,
                        fails_when: FailsWhen::Said(&[CARD_READ_BACK]),
                        yes: "4cbc2771-78a3-4962-bb83-3f9ac900408b",
                        no: "83b0960f-3d3e-482b-9bd9-103771b60aa0",
                    },
                ],
            },
            Group {
                id: "687ab281-dd09-4b32-a909-c3e92418b12d",
                name: "Service",
                questions: &[
                    Question {
                        id: "d10cb6c6-dc69-40fd-9239-77400836a257",
                        text: "Was the caller greeted?",
                        kind: QuestionKind::Plain,
                        fails_when: FailsWhen::Missing(GREETING),
                        yes: "4a300b06-a34c-40f7-9cf3-6e6f5a818891",
                        no: "0e3fea6f-61c7-4805-bf12-1ff162414289",
                    },
                    Question {
                        id: "dc396def-329e-4a87-ab3f-04c8981d4a46",
                        text: "Did the agent summarise the next steps?",
                        kind: QuestionKind::Plain,
                        fails_when: FailsWhen::Chance,
                        yes: "f9b9fe87-f589-4cac-8915-4dbf97c0490e",
                        no: "b5f765c5-f4f9-452c-8073-a2ab25f8d107",
                    },
                ],
            },
        ],
    },
    Form {
        id: "8e4af878-55ac-4106-a21e-471a23526908",
        context_id: "c7e50adb-6d4e-400a-954e-d0b94f04b731",
        name: "Sales compliance review",
        groups: &[Group {
            id: "6fd780b3-a422-44d2-8bca-103b64d831de",
            name: "Conduct",
            questions: &[
                Question {
                    id: "2b93a7fe-ce07-4c1c-8e55-35fcdb680612",
                    text: "Were outcomes described without threats or guarantees?",
                    kind: QuestionKind::Kill,
                    fails_when: FailsWhen::Said(&[THREAT, GUARANTEE]),
                    yes: "125fd64c-0498-4261-8140-238f27b27ab8",
                    no: "445b2dc5-a23a-4f5d-8a41-41848c7aa54f",
                },
                Question {
                    id: "5e881a17-e927-4ea3-90ec-e3639debb91d",
                    text: "Was marketing consent captured correctly?",
                    kind: QuestionKind::Critical,
                    fails_when: FailsWhen::Said(&[MARKETING_CONSENT]),
                    yes: "f51553b4-fd9f-419b-8c8e-8a2885d38022",
                    no: "aeda5166-e2fd-4aad-ab27-f334d81340a9",
                },
                Question {
                    id: "1e39d7c5-d77c-4684-a563-a632c63a1b91",
                    text: "Was the tone professional?",
                    kind: QuestionKind::Plain,
                    fails_when: FailsWhen::Chance,
                    yes: "da20a959-3cfd-4094-968c-7ef58927b752",
                    no: "81b6289a-a5b1-4309-aa2a-13d2602096c6",
                },
            ],
        }],
    },
];
