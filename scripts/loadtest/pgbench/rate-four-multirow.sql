\set ka random_zipfian(1, 9742, 1.05)
\set kb random_zipfian(1, 9742, 1.05)
\set kc random_zipfian(1, 9742, 1.05)
\set kd random_zipfian(1, 9742, 1.05)
\set ua random(1, 610)
\set ub random(1, 610)
\set uc random(1, 610)
\set ud random(1, 610)
BEGIN;
SELECT array_agg(id ORDER BY k) AS ms FROM mids WHERE k IN (:ka, :kb, :kc, :kd) \gset
SELECT id, rating_count, rating_total, popularity_score FROM movies WHERE id = ANY (:ms::bigint[]) ORDER BY id FOR UPDATE;
SELECT (SELECT value FROM settings WHERE key = 'popularity_epoch'), x.m, r.id, r.score, r.rated_at, (SELECT username FROM users WHERE id = x.u) FROM unnest(:ms::bigint[], ARRAY[:ua, :ub, :uc, :ud]::bigint[]) AS x(m, u) LEFT JOIN ratings r ON r.user_id = x.u AND r.movie_id = x.m;
INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at) SELECT x.u, x.m, 4, '', now(), now() FROM unnest(:ms::bigint[], ARRAY[:ua, :ub, :uc, :ud]::bigint[]) AS x(m, u) WHERE x.m IS NOT NULL ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at RETURNING id, rated_at, updated_at;
UPDATE movies SET rating_count = rating_count, rating_total = rating_total, average_rating = average_rating, popularity_score = popularity_score + 0.001 FROM unnest(:ms::bigint[]) AS x(m) WHERE id = x.m;
WITH l AS (SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.catalog_changes'))), ins AS (INSERT INTO catalog_changes (version, kind, entity_id, changed_at, old_score, new_score, rated_at, rating_count, average_rating, popularity_score) SELECT nextval(pg_get_serial_sequence('catalog_changes', 'version')), 'movie', x.m, now(), 0, 4, now(), 1, 4, 1 FROM l, unnest(:ms::bigint[]) AS x(m) RETURNING version) SELECT version FROM ins;
COMMIT;
