package movierec_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/movierec/movierec"
)

func TestErrorTaxonomy(t *testing.T) {
	wrapped := fmt.Errorf("Movie(7): %w", movierec.ErrNotFound)
	field := movierec.FieldError("page", "must be a positive integer")
	cases := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"Nil", nil, "", ""},
		{"Wrapped", wrapped, movierec.ENOTFOUND, "Not found."},
		{"Field", fmt.Errorf("list: %w", field), movierec.EINVALID, "Invalid value for page: must be a positive integer"},
		{"Internal", errors.New("pq: connection reset by peer"), movierec.EINTERNAL, "Internal error."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := movierec.ErrorCode(c.err); got != c.code {
				t.Errorf("ErrorCode = %q, want %q", got, c.code)
			}
			if got := movierec.ErrorMessage(c.err); got != c.message {
				t.Errorf("ErrorMessage = %q, want %q", got, c.message)
			}
		})
	}
	if d := movierec.ErrorDetails(fmt.Errorf("x: %w", field)); len(d["page"]) != 1 {
		t.Errorf("details %v do not name page", d)
	}
	if !errors.Is(wrapped, movierec.ErrNotFound) {
		t.Error("a wrapped ErrNotFound is not found by errors.Is")
	}
}
