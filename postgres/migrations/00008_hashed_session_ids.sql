-- +goose Up
-- Sessions are kept under the SHA-256 of their ID (movierec.SessionKey):
-- tokens carry the ID, so a copy of the database names no session that a
-- token could be signed for, even with the signing key.
UPDATE sessions SET id = encode(sha256(convert_to(id, 'UTF8')), 'hex');

-- +goose Down
-- The IDs cannot be recovered: every session ends (users sign in again).
DELETE FROM sessions;
