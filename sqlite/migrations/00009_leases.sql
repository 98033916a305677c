-- +goose Up
-- Named leases: at most one holder at a time until expires_at (see
-- sqlstore.Store.AcquireLease). Training takes one, so one instance
-- trains per trigger and the others load its model.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE leases;
