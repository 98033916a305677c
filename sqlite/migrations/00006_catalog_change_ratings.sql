-- +goose Up
-- What a rating write did, on its ChangeMovie (NULL on every other
-- change), so that in-memory catalogs apply it without reloading the
-- movie: the rating's score before and after (0: none), its rated_at,
-- and the movie's aggregates after the write, as stored in its row.
ALTER TABLE catalog_changes ADD COLUMN old_score DOUBLE PRECISION;
ALTER TABLE catalog_changes ADD COLUMN new_score DOUBLE PRECISION;
ALTER TABLE catalog_changes ADD COLUMN rated_at TIMESTAMP;
ALTER TABLE catalog_changes ADD COLUMN rating_count INTEGER;
ALTER TABLE catalog_changes ADD COLUMN average_rating DOUBLE PRECISION;
ALTER TABLE catalog_changes ADD COLUMN popularity_score DOUBLE PRECISION;

-- +goose Down
-- The change rows stay; without their payloads, readers reload movies.
ALTER TABLE catalog_changes DROP COLUMN popularity_score;
ALTER TABLE catalog_changes DROP COLUMN average_rating;
ALTER TABLE catalog_changes DROP COLUMN rating_count;
ALTER TABLE catalog_changes DROP COLUMN rated_at;
ALTER TABLE catalog_changes DROP COLUMN new_score;
ALTER TABLE catalog_changes DROP COLUMN old_score;
