BEGIN;
\set ka random_zipfian(1, 9742, 1.05)
\set ua random(1, 610)
SELECT id AS ma FROM mids WHERE k = :ka \gset
SELECT rating_count, rating_total, popularity_score FROM movies WHERE id = :ma FOR UPDATE;
SELECT (SELECT value FROM settings WHERE key = 'popularity_epoch'), r.id, r.score, r.rated_at, (SELECT username FROM users WHERE id = :ua) FROM (SELECT 1 AS one) AS one LEFT JOIN ratings r ON r.user_id = :ua AND r.movie_id = :ma;
INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at) VALUES (:ua, :ma, 4, '', now(), now()) ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at RETURNING id, rated_at, updated_at;
UPDATE movies SET rating_count = rating_count, rating_total = rating_total, average_rating = average_rating, popularity_score = popularity_score + 0.001 WHERE id = :ma;
WITH l AS (SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.catalog_changes'))), ins AS (INSERT INTO catalog_changes (version, kind, entity_id, changed_at, old_score, new_score, rated_at, rating_count, average_rating, popularity_score) SELECT nextval(pg_get_serial_sequence('catalog_changes', 'version')), 'movie', :ma, now(), 0, 4, now(), 1, 4, 1 FROM l RETURNING version) SELECT version FROM ins;
COMMIT;
