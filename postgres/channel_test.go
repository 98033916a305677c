package postgres

import (
	"strings"
	"testing"
)

func TestChannelFor(t *testing.T) {
	const hashed = "" // the schema's name cannot be used as it is
	for _, c := range []struct{ schema, want string }{
		{"", CatalogChannel},
		{"public", CatalogChannel},
		{"test_0123456789ab", "movierec_catalog_test_0123456789ab"},
		{"tenant_42", "movierec_catalog_tenant_42"},
		{strings.Repeat("s", 46), "movierec_catalog_" + strings.Repeat("s", 46)},
		{strings.Repeat("s", 47), hashed},
		{"Tenant", hashed},
		{"a'b; DROP TABLE x", hashed},
	} {
		got := channelFor(c.schema)
		if len(got) > maxChannel || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("channelFor(%q) = %q: not a short lower-case identifier", c.schema, got)
		}
		if c.want == hashed {
			if len(got) != len(CatalogChannel)+1+16 || !strings.HasPrefix(got, CatalogChannel+"_") {
				t.Errorf("channelFor(%q) = %q, want a hashed name", c.schema, got)
			}
		} else if got != c.want {
			t.Errorf("channelFor(%q) = %q, want %q", c.schema, got, c.want)
		}
	}
	if channelFor("Tenant") == channelFor("TENANT") || channelFor("tenant_a") == channelFor("tenant_b") {
		t.Error("different schemas share a channel")
	}
}
