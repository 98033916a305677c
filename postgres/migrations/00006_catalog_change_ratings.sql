-- +goose Up
-- What a rating write did, on its ChangeMovie (NULL on every other
-- change), so that in-memory catalogs apply it without reloading the
-- movie: the rating's score before and after (0: none), its rated_at,
-- and the movie's aggregates after the write, as stored in its row.
ALTER TABLE catalog_changes
    ADD COLUMN old_score        DOUBLE PRECISION,
    ADD COLUMN new_score        DOUBLE PRECISION,
    ADD COLUMN rated_at         TIMESTAMPTZ,
    ADD COLUMN rating_count     INTEGER,
    ADD COLUMN average_rating   DOUBLE PRECISION,
    ADD COLUMN popularity_score DOUBLE PRECISION;

-- +goose Down
-- The change rows stay; without their payloads, readers reload movies.
ALTER TABLE catalog_changes
    DROP COLUMN popularity_score,
    DROP COLUMN average_rating,
    DROP COLUMN rating_count,
    DROP COLUMN rated_at,
    DROP COLUMN new_score,
    DROP COLUMN old_score;
