package api

import "net/http"

// schema serves the OpenAPI document.
func (s *Server) schema(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPIDocument)
}

// openAPIDocument is replaced by the generated document.
var openAPIDocument = []byte(`{}`)
