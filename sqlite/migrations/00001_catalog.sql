-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '', -- empty: the account cannot log in
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    is_staff      BOOLEAN NOT NULL DEFAULT 0,
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    date_joined   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));
CREATE UNIQUE INDEX users_email_ci ON users (lower(email)) WHERE email <> '';

CREATE TABLE genres (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX genres_name_ci ON genres (lower(name));

CREATE TABLE tags (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX tags_name_ci ON tags (lower(name));

-- title compares in byte order (BINARY), as the PostgreSQL schema asks for
CREATE TABLE movies (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    release_year     INTEGER,
    release_date     DATE,
    duration         INTEGER,
    imdb_rating      DOUBLE PRECISION,
    poster_url       TEXT,
    trailer_url      TEXT,
    imdb_id          TEXT,
    tmdb_id          BIGINT,
    popularity_score DOUBLE PRECISION NOT NULL DEFAULT 0,
    average_rating   DOUBLE PRECISION NOT NULL DEFAULT 0,
    rating_count     INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- One index per ordering, with id as the tie-breaker the list query uses.
CREATE INDEX movies_title ON movies (title, id);
CREATE INDEX movies_release_date ON movies (release_date, id);
CREATE INDEX movies_imdb_rating ON movies (imdb_rating, id);
CREATE INDEX movies_popularity_score ON movies (popularity_score, id);
CREATE INDEX movies_average_rating ON movies (average_rating, id);
CREATE INDEX movies_rating_count ON movies (rating_count, id);
CREATE INDEX movies_created_at ON movies (created_at, id);
CREATE INDEX movies_release_year ON movies (release_year);

CREATE TABLE movie_genres (
    movie_id BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    genre_id BIGINT NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    PRIMARY KEY (movie_id, genre_id)
);
CREATE INDEX movie_genres_genre ON movie_genres (genre_id, movie_id);

CREATE TABLE taggings (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id  BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    tag_id    BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    tagged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (movie_id, tag_id, user_id)
);
CREATE INDEX taggings_tag ON taggings (tag_id, movie_id);
CREATE INDEX taggings_user ON taggings (user_id);

CREATE TABLE ratings (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id   BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    score      DOUBLE PRECISION NOT NULL CHECK (score >= 0.5 AND score <= 5.0),
    review     TEXT NOT NULL DEFAULT '',
    rated_at   TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, movie_id)
);
CREATE INDEX ratings_movie_score ON ratings (movie_id, score);
-- (rated_at, movie_id) covers the trending window's count per movie.
CREATE INDEX ratings_rated_at ON ratings (rated_at, movie_id);

-- +goose Down
DROP TABLE ratings;
DROP TABLE taggings;
DROP TABLE movie_genres;
DROP TABLE movies;
DROP TABLE tags;
DROP TABLE genres;
DROP TABLE users;
