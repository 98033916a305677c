package movierec

import (
	"errors"
	"fmt"
)

// Error codes. They are the "code" of the API's error body; the api package
// maps each to one HTTP status.
const (
	EINVALID      = "VALIDATION_ERROR"
	EUNAUTHORIZED = "NOT_AUTHENTICATED"
	EFORBIDDEN    = "PERMISSION_DENIED"
	ENOTFOUND     = "NOT_FOUND"
	ECONFLICT     = "CONFLICT"
	EUNAVAILABLE  = "UNAVAILABLE"
	EINTERNAL     = "INTERNAL_ERROR"
)

// Error is an error a client can act on: a code, a human message and
// optional per-field details. Anything that is not an *Error is internal.
type Error struct {
	Code    string
	Message string
	Details map[string][]string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("movierec error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a validation error naming one field.
func FieldError(field, message string) *Error {
	return &Error{
		Code:    EINVALID,
		Message: fmt.Sprintf("Invalid value for %s: %s", field, message),
		Details: map[string][]string{field: {message}},
	}
}

// ErrStoreUnavailable is wrapped by store errors that mean the database
// cannot answer now (unreachable, shutting down, or past a statement's
// deadline): the client should retry later (503 with Retry-After).
var ErrStoreUnavailable = &Error{Code: EUNAVAILABLE, Message: "The database is not answering; try again shortly."}

// ErrStoreFull is wrapped, with ErrStoreUnavailable, by store errors that
// mean the database ran out of disk space: the statement or transaction
// was rolled back, so nothing of it was kept, and a retry can succeed once
// space is freed (503 with Retry-After, and this message).
var ErrStoreFull = &Error{Code: EUNAVAILABLE, Message: "The database is out of disk space; nothing of this request was written. Try again once space has been freed."}

// ErrNotFound is wrapped by lookups that find nothing.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "Not found."}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL when there is none (and "" for a nil error).
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the client-safe message of err: the *Error's message,
// or a generic one for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "Internal error."
	}
}

// ErrorDetails returns the per-field details of err, if any.
func ErrorDetails(err error) map[string][]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
