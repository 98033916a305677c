-- +goose Up
-- Catalog lists and rankings are answered from each instance's in-memory
-- catalog, not from these indexes (the SQL list queries remain as the
-- oracle of the differential tests), and every rating write updates a
-- movie's aggregates: three index updates per write saved.
DROP INDEX movies_popularity_score;
DROP INDEX movies_average_rating;
DROP INDEX movies_rating_count;

-- +goose Down
CREATE INDEX movies_popularity_score ON movies (popularity_score, id);
CREATE INDEX movies_average_rating ON movies (average_rating, id);
CREATE INDEX movies_rating_count ON movies (rating_count, id);
