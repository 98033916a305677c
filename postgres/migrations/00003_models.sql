-- +goose Up
-- Trained recommendation models, newest last. Every instance serves the
-- newest; training writes a new row and never changes old ones.
CREATE TABLE models (
    version          TEXT PRIMARY KEY,
    trained_at       TIMESTAMPTZ NOT NULL,
    training_seconds DOUBLE PRECISION NOT NULL,
    ratings          INTEGER NOT NULL,
    data             BYTEA NOT NULL
);
CREATE INDEX models_trained_at ON models (trained_at);

-- Which ratings changed since a model was trained.
CREATE INDEX ratings_updated_at ON ratings (updated_at);

-- +goose Down
DROP INDEX ratings_updated_at;
DROP TABLE models;
