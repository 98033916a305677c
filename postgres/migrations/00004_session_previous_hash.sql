-- +goose Up
-- The refresh hash a session had before its last rotation: presenting that
-- (already used) token again is theft; any other wrong token is just wrong.
ALTER TABLE sessions ADD COLUMN previous_refresh_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN previous_refresh_hash;
