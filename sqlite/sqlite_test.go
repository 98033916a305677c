package sqlite

import "testing"

func TestPathFromURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:///var/lib/movierec.db": "/var/lib/movierec.db",
		"sqlite://movierec.db":          "movierec.db",
		"sqlite:data/m.db":              "data/m.db",
	} {
		if got, err := PathFromURL(in); err != nil || got != want {
			t.Errorf("PathFromURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"sqlite://", "postgres://x", "movierec.db"} {
		if _, err := PathFromURL(bad); err == nil {
			t.Errorf("PathFromURL(%q) succeeded", bad)
		}
	}
}
