package api

import (
	_ "embed"
	"net/http"
)

// schema serves the OpenAPI document.
func (s *Server) schema(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPIDocument)
	return nil
}

// openAPIDocument is the OpenAPI 3.1 document of the API, kept in
// openapi.json beside this file. openapi_test.go checks it against the
// registered routes and validates real responses with it, so a handler
// change that is not documented there fails the tests.
//
//go:embed openapi.json
var openAPIDocument []byte
