-- +goose Up
-- Catalog lists and rankings are answered from each instance's in-memory
-- catalog, not from these indexes (the SQL list queries remain as the
-- oracle of the differential tests). Every rating write updates a
-- movie's aggregates: with an index on any of them, each such update
-- wrote a new entry into every index of movies (a dozen); without, and
-- with room left in each page, it is a heap-only (HOT) update that
-- touches no index.
DROP INDEX movies_popularity_score;
DROP INDEX movies_average_rating;
DROP INDEX movies_rating_count;
ALTER TABLE movies SET (fillfactor = 90);

-- +goose Down
ALTER TABLE movies RESET (fillfactor);
CREATE INDEX movies_popularity_score ON movies (popularity_score, id);
CREATE INDEX movies_average_rating ON movies (average_rating, id);
CREATE INDEX movies_rating_count ON movies (rating_count, id);
