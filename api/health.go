package api

import (
	"context"
	"net/http"
	"time"
)

// healthTimeout bounds the database check of the health endpoints.
const healthTimeout = 2 * time.Second

type healthJSON struct {
	Status       string         `json:"status"`
	Database     string         `json:"database"`
	Cache        string         `json:"cache"`
	ModelVersion *string        `json:"model_version"`
	Pool         *PoolState     `json:"pool,omitempty"`
	Replicas     []ReplicaState `json:"replicas,omitempty"`
}

// DatabaseState is what /health/ shows of the database's connections.
type DatabaseState struct {
	// Pool is the primary's connection pool.
	Pool PoolState
	// Replicas are the read replicas (none without).
	Replicas []ReplicaState
}

// PoolState is a connection pool's size.
type PoolState struct {
	Acquired int `json:"acquired"`
	Idle     int `json:"idle"`
	Total    int `json:"total"`
	Max      int `json:"max"`
}

// ReplicaState is a read replica as /health/ shows it.
type ReplicaState struct {
	Name string `json:"name"`
	// State is ok, lagging, unreachable, not a standby or unknown.
	State      string    `json:"state"`
	LagSeconds float64   `json:"lag_seconds"`
	Version    int64     `json:"catalog_version"`
	Reads      int64     `json:"reads"`
	Fallbacks  int64     `json:"fallbacks"`
	Pool       PoolState `json:"pool"`
	Error      string    `json:"error,omitempty"`
}

// health reports the state of each dependency; 503 when the database does
// not answer.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	h := healthJSON{Status: "healthy", Database: "ok", Cache: "ok"}
	if s.cache != nil {
		h.Cache = s.cache.Health(ctx)
	} else {
		h.Cache = "disabled"
	}
	if s.recommender != nil {
		if v := s.recommender.ModelVersion(); v != "" {
			h.ModelVersion = &v
		}
	}
	if s.database != nil {
		st := s.database()
		h.Pool, h.Replicas = &st.Pool, st.Replicas
	}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		h.Status, h.Database = "unhealthy", "unreachable"
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, h)
	return nil
}

// healthz is liveness: the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is readiness: migrations are applied (the server is only built
// after they are), the database answers, and no shutdown has begun.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready.Load() {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
