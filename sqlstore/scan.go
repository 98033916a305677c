package sqlstore

import (
	"fmt"
	"time"
)

// nullTime scans a nullable timestamp or date from either backend: pgx
// hands over time.Time, the SQLite driver time.Time or text.
type nullTime struct {
	Time  time.Time
	Valid bool
}

// timeLayouts are the text forms SQLite may hold, most common first.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// Scan implements sql.Scanner (which pgx also honours).
func (t *nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = nullTime{}
		return nil
	case time.Time:
		*t = nullTime{Time: v.UTC(), Valid: true}
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	}
	return fmt.Errorf("nullTime: cannot scan %T", src)
}

func (t *nullTime) parse(s string) error {
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = nullTime{Time: v.UTC(), Valid: true}
			return nil
		}
	}
	return fmt.Errorf("nullTime: cannot parse %q", s)
}
