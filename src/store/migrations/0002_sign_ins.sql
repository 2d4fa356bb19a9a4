-- Refused sign-ins per account (token URL + username) since its last successful sign-in, so that
-- `once` from cron and a restarted daemon wait as long as a running one (SPEC §4.8). `credentials`
-- is a 16-bit fingerprint: it tells a changed password, and is too short to help guess one.
CREATE TABLE sign_in_refusals (
    account TEXT NOT NULL, at_ms BIGINT NOT NULL, kind TEXT NOT NULL, credentials BIGINT NOT NULL,
    message TEXT NOT NULL);
CREATE INDEX sign_in_refusals_account ON sign_in_refusals (account, at_ms);
