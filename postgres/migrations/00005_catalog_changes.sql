-- +goose Up
-- Every committed catalog change, for in-memory catalogs to follow; each
-- write also sends its version with pg_notify (see postgres.Channel).
CREATE TABLE catalog_changes (
    version    BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,             -- movie, genre, tag or all
    entity_id  BIGINT NOT NULL DEFAULT 0, -- the movie, genre or tag; 0 for all
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX catalog_changes_changed_at ON catalog_changes (changed_at);

-- The sum of a movie's scores, kept exactly (scores are halves) so rating
-- writes can update average_rating incrementally.
ALTER TABLE movies ADD COLUMN rating_total DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Reloading one movie's recent ratings.
CREATE INDEX ratings_movie_rated_at ON ratings (movie_id, rated_at);

-- The popularity epoch E: popularity_score is the sum of
-- (score / 5) * 2^((rated_at - E) / 365 days) over a movie's ratings
-- (forward decay; see sqlstore.PopularityHalfLifeDays). It starts at the
-- newest rating, or now without any, in RFC 3339.
INSERT INTO settings (key, value)
SELECT 'popularity_epoch', to_char(COALESCE(max(rated_at), now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM ratings
ON CONFLICT (key) DO NOTHING;

-- Every aggregate from scratch with E, as an import computes them.
UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (
    SELECT count(*), COALESCE(sum(r.score), 0), COALESCE(sum(r.score) / count(*), 0),
        COALESCE(sum(r.score / 5.0 * power(2.0, (extract(epoch from r.rated_at)::float8 - e.t) / 31536000.0) ORDER BY r.id), 0)
    FROM ratings r, (SELECT extract(epoch from value::timestamptz)::float8 AS t FROM settings WHERE key = 'popularity_epoch') e
    WHERE r.movie_id = movies.id);

-- +goose Down
-- popularity_score keeps the forward-decay values; the next import
-- recomputes them.
DELETE FROM settings WHERE key IN ('popularity_epoch', 'catalog_changes_pruned');
DROP INDEX ratings_movie_rated_at;
ALTER TABLE movies DROP COLUMN rating_total;
DROP TABLE catalog_changes;
