//! The simulator against `compliance-api.md`, over real loopback HTTP, one
//! module per section of the contract so that a reader can tick off each
//! sentence. Each test starts its own simulator on 127.0.0.1:0; it stops when
//! the test drops it.
//!
//! Sentence by sentence (a sentence that is the client's duty is marked so;
//! the simulator's part is to make it testable):
//!
//! | contract | test |
//! |---|---|
//! | §1 region table, names, prefixes | client's duty (`compliance_api::REGIONS`) |
//! | §1 explicit base URLs, `http://` only on loopback | `s1_hosts::the_token_endpoint_and_the_api_share_one_loopback_base_url` |
//! | §2 Basic header, form content type, `grant_type` | `s2_token::basic_credentials_get_a_bearer_token_of_the_default_lifetime`, `malformed_token_requests_get_400_invalid_client`, `a_token_request_that_is_not_a_form_is_refused` |
//! | §2 form credentials instead; extra fields ignored | `s2_token::form_credentials_are_accepted_instead_of_basic_and_extra_fields_ignored` |
//! | §2 200 body; `expires_in` seconds, default 24 h, configurable | `s2_token::basic_credentials_…`, `expires_in_is_the_configured_lifetime_and_there_is_no_refresh_token` |
//! | §2 no refresh token; new token with the same grant | `s2_token::an_expired_token_gets_401_and_the_same_grant_gives_a_new_one`, `each_grant_issues_a_new_opaque_token_and_earlier_ones_stay_valid` |
//! | §2 failure 400/401 `invalid_client` | `s2_token::wrong_or_unknown_credentials_get_401_invalid_client`, `malformed_token_requests_get_400_invalid_client` |
//! | §2 token endpoint rate limited | `s6_rate_limits::the_default_is_300_per_minute_over_token_and_api_together` |
//! | §3 `Content-Type: application/json` (else 415, as Genesys answers) | `s5_errors::a_query_that_is_not_sent_as_json_gets_415` |
//! | §3 Bearer header; permission or 403 | `s5_errors::a_missing_unknown_or_malformed_token_gets_401_bad_credentials`, `a_client_without_the_permission_gets_tokens_but_403_missing_permissions` |
//! | §3 body keys exactly as shown | `s3_constraints::keys_are_exactly_as_shown_so_a_misspelt_key_is_refused_not_ignored`, `s3_pages::the_contract_example_query_is_served` |
//! | §3 400 and nothing else happens | `s3_constraints::every_broken_constraint_is_named`, `a_refused_request_changes_nothing` |
//! | §3 timestamps RFC 3339 UTC Z, ≤ 9 fraction digits | `s3_constraints::timestamps_must_be_rfc3339_utc_with_z_and_up_to_nine_fractional_digits` |
//! | §3 `start < end`, `[start, end)`, ≤ 31 days | `s3_constraints::start_must_be_before_end_and_the_span_at_most_31_days`, `the_interval_covers_start_inclusive_to_end_exclusive` |
//! | §3 filters `{}`; lists absent, null or non-empty; empty refused | `s3_constraints::filters_may_be_empty_absent_or_null_and_each_list_absent_or_null`, `empty_lists_are_refused` |
//! | §3 severity values | `s3_constraints::severity_values_are_low_medium_high_critical` |
//! | §3 canonical UUIDs, ≤ 100 each | `s3_constraints::policy_and_agent_ids_are_canonical_uuids_at_most_100_each`, `filters_combine_and_a_violation_missing_the_field_does_not_match` |
//! | §3 `size` 1..1000 | `s3_constraints::size_is_an_integer_from_1_to_1000` |
//! | §3 cursor null/absent first, then exactly `nextPageCursor` | `s3_constraints::a_cursor_is_null_or_absent_first_then_exactly_the_previous_next_page_cursor` |
//! | §3 `invalid.cursor` with another interval, filters or size | `s3_constraints::a_cursor_used_with_another_interval_filters_or_size_is_invalid_cursor` |
//! | §3 body ≤ 512,000 bytes, else 413 | `s3_constraints::a_body_over_512000_bytes_gets_413_before_it_is_parsed` |
//! | §3 100,000 per query, `pagination.limit.exceeded`, split the interval | `s3_pages::one_query_pages_through_at_most_100000_violations`, `a_lowered_cap_refuses_paging_past_it` |
//! | §3 ordered by `detectedAt`, then `id` | `s3_pages::violations_are_ordered_by_detected_at_then_id`, `cursor_paging_returns_every_violation_exactly_once_in_order` |
//! | §3 `pageSize` echoes; fewer than size while more follow | `s3_pages::page_size_echoes_the_size_and_next_page_cursor_is_always_present`, `one_query_pages_through_at_most_100000_violations`, `short_pages_hold_fewer_than_the_size_while_more_pages_follow` |
//! | §3 `nextPageCursor` always present, null on the last page | `s3_pages::page_size_echoes_the_size_and_next_page_cursor_is_always_present` |
//! | §3 `total` when the first page was served | `s3_pages::total_is_the_count_when_the_first_page_was_served` |
//! | §3 the same violation on two consecutive pages; client dedups by id | `faults::duplicates_begin_a_page_with_the_last_violation_of_the_previous_one` |
//! | §3 late violations, up to 15 minutes | `s3_pages::a_late_violation_appears_in_an_extracted_window_after_its_detected_at`; `late_violations_become_visible_within_late_max` (unit) |
//! | §3 the Violation object: always, usually, evidence, new fields | `s3_pages::served_violations_keep_the_violation_object_contract`, `served_violation_keys_are_the_contract_keys_or_documented_extras`; dataset unit tests |
//! | §4 `ININ-Correlation-Id` on every response; the client's own is shared | `s4_correlation::*`; the client's side in `compliance-client`'s `extract::the_client_sends_the_contract_headers_and_its_correlation_id_is_echoed` |
//! | §5 error body; fields may be absent | `s5_errors::the_error_body_has_message_code_status_context_id_details_and_errors` |
//! | §5 400 / 401 / 403 / 413 / 429 rows | `s3_constraints::*`, `s5_errors::*`, `s6_rate_limits::*` |
//! | §5 401 "missing, expired or revoked" | `s5_errors::a_missing_unknown_or_malformed_token_gets_401_bad_credentials`, `a_revoked_token_gets_401_bad_credentials_and_the_same_grant_a_new_one`, `s2_token::an_expired_token_gets_401_…`; the client's side in `compliance-client`'s `extract::a_revoked_token_is_replaced_once_and_the_request_retried` |
//! | §5 5xx, HTML or empty body, `Retry-After` with 503 | `faults::server_errors_are_500_502_503_504_with_html_or_empty_bodies` |
//! | §6 300/minute per client over API and token endpoint; 429 + integer `Retry-After`; configurable | `s6_rate_limits::*`; `limiter` unit tests for the rolling minute |

//!
//! The real Genesys Cloud endpoints (`genesys-real-apis.md`, `docs/simulator.md`)
//! are checked in `genesys_sta` (§2 transcript aggregates, job lifecycle,
//! topics, categories, details, transcript URLs; §6 permissions; §7 the 429
//! body and limits; §9 program coverage and interval edges) and
//! `genesys_quality` (§3 search range, late, rescored and retracted
//! evaluations, forms).

mod harness;

mod s1_hosts;
mod s2_token;
mod s3_constraints;
mod s3_pages;
mod s4_correlation;
mod s5_errors;
mod s6_rate_limits;

mod faults;
mod genesys_quality;
mod genesys_sta;
