package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/movierec/movierec"
)

// Codes that only the HTTP layer produces, besides METHOD_NOT_ALLOWED.
const (
	codePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	codeUnsupportedMedia     = "UNSUPPORTED_MEDIA_TYPE"
	codeThrottled            = "THROTTLED"
	maxBodyBytes         int = 64 << 10
)

// body is a decoded JSON object request body. Like query, its accessors
// record problems instead of failing, so one 400 names every bad field;
// fields nobody asked for are errors, read-only ones say so.
type body struct {
	raw  map[string]json.RawMessage
	used map[string]bool
	errs map[string][]string
}

// readBody decodes the request's JSON object (and rejects any query
// parameter). A missing body is an empty
// object when allowEmpty; a wrong Content-Type is a 415, an oversized body
// a 413, anything but a JSON object a 400.
func readBody(w http.ResponseWriter, r *http.Request, allowEmpty bool) (*body, error) {
	if err := newQuery(r).err(); err != nil { // write routes take no query parameters
		return nil, err
	}
	b := &body{raw: map[string]json.RawMessage{}, used: map[string]bool{}, errs: map[string][]string{}}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBodyBytes)))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, movierec.Errorf(codePayloadTooLarge, "Request body is larger than %d bytes.", maxBodyBytes)
	} else if err != nil {
		return nil, movierec.Errorf(movierec.EINVALID, "Could not read the request body.")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return b, nil
		}
		return nil, movierec.Errorf(movierec.EINVALID, "A JSON object body is required.")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, movierec.Errorf(codeUnsupportedMedia, "Content-Type must be application/json.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b.raw); err != nil || b.raw == nil || dec.More() {
		return nil, movierec.Errorf(movierec.EINVALID, "The body must be one JSON object.")
	}
	return b, nil
}

func (b *body) fail(field, msg string) { b.errs[field] = append(b.errs[field], msg) }

// has reports whether field was sent (even as null), marking it used.
func (b *body) has(field string) bool {
	b.used[field] = true
	_, ok := b.raw[field]
	return ok
}

func (b *body) isNull(field string) bool { return string(b.raw[field]) == "null" }

// decode unmarshals a present field into dst, recording msg on failure.
func (b *body) decode(field string, dst any, msg string) bool {
	if err := json.Unmarshal(b.raw[field], dst); err != nil {
		b.fail(field, msg)
		return false
	}
	return true
}

// str reads a string field into dst if present; required fields must be
// present and non-blank. It reports whether dst was set.
func (b *body) str(field string, dst *string, required bool, maxLen int) bool {
	if !b.has(field) {
		if required {
			b.fail(field, "This field is required.")
		}
		return false
	}
	var s string
	if b.isNull(field) || !b.decode(field, &s, "must be a string") {
		if b.isNull(field) {
			b.fail(field, "may not be null")
		}
		return false
	}
	s = strings.TrimSpace(s)
	switch {
	case strings.ContainsRune(s, 0):
		b.fail(field, "must not contain NUL characters")
		return false
	case required && s == "":
		b.fail(field, "may not be blank")
		return false
	case len([]rune(s)) > maxLen:
		b.fail(field, fmt.Sprintf("must be at most %d characters", maxLen))
		return false
	}
	*dst = s
	return true
}

// rawString reads a string field without trimming (passwords).
func (b *body) rawString(field string, dst *string) {
	if !b.has(field) || b.isNull(field) {
		b.fail(field, "This field is required.")
		return
	}
	if b.decode(field, dst, "must be a string") && strings.ContainsRune(*dst, 0) {
		b.fail(field, "must not contain NUL characters")
	}
}

// number reads a required finite number.
func (b *body) number(field string, dst *float64) bool {
	if !b.has(field) || b.isNull(field) {
		b.fail(field, "This field is required.")
		return false
	}
	return b.decode(field, dst, "must be a number")
}

// boolean reads an optional boolean; it reports whether dst was set.
func (b *body) boolean(field string, dst *bool) bool {
	if !b.has(field) {
		return false
	}
	if b.isNull(field) {
		b.fail(field, "must be true or false")
		return false
	}
	return b.decode(field, dst, "must be true or false")
}

// nullable reads an optional field that may be null: absent leaves *dst
// alone and reports false; null sets it to nil.
func nullable[T any](b *body, field string, dst **T, msg string, check func(T) string) bool {
	if !b.has(field) {
		return false
	}
	if b.isNull(field) {
		*dst = nil
		return true
	}
	var v T
	if !b.decode(field, &v, msg) {
		return false
	}
	if check != nil {
		if m := check(v); m != "" {
			b.fail(field, m)
			return false
		}
	}
	*dst = &v
	return true
}

// readOnly rejects fields the client may see but not set.
func (b *body) readOnly(fields ...string) {
	for _, f := range fields {
		if b.has(f) {
			b.fail(f, "This field is read-only.")
		}
	}
}

// err returns the validation error for everything recorded, or nil.
func (b *body) err() error {
	for f := range b.raw {
		if !b.used[f] {
			b.fail(f, "unknown field")
		}
	}
	if len(b.errs) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(b.errs))
	return &movierec.Error{Code: movierec.EINVALID, Message: "Invalid input data: " + strings.Join(names, ", "), Details: b.errs}
}
