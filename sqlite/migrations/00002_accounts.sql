-- +goose Up
-- A session is one login: its refresh token (stored as a SHA-256 hash)
-- rotates on every refresh; access tokens name the session, so revoking it
-- ends them too.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Server-wide settings, such as the token signing key when none is configured.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE favorites (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id   BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX favorites_user_created ON favorites (user_id, created_at);
CREATE INDEX favorites_movie ON favorites (movie_id);

-- One entry per user and movie: watching again updates it.
CREATE TABLE watch_history (
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id       BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    watched_at     TIMESTAMP NOT NULL,
    watch_duration INTEGER,
    completed      BOOLEAN NOT NULL DEFAULT 0,
    watch_count    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX watch_history_user_watched ON watch_history (user_id, watched_at);
CREATE INDEX watch_history_movie ON watch_history (movie_id);

CREATE INDEX ratings_user_rated_at ON ratings (user_id, rated_at, id);

-- +goose Down
DROP INDEX ratings_user_rated_at;
DROP TABLE watch_history;
DROP TABLE favorites;
DROP TABLE settings;
DROP TABLE sessions;
