package query

import (
	"net/url"
	"testing"
)

func TestLinks(t *testing.T) {
	const path = "/api/v2/assets/assets/"
	tests := []struct {
		name     string
		raw      string
		maxLimit int
		count    int
		next     string // "" for nil
		previous string
	}{
		{"no limit", "search=web", 0, 100, "", ""},
		{"no limit with offset", "offset=10", 0, 100, "", ""},
		{"first page", "limit=20&search=web", 0, 100,
			path + "?limit=20&offset=20&search=web", ""},
		{"middle page", "search=web&limit=20&offset=40&node=n1&id__in=a,b", 0, 100,
			path + "?id__in=a%2Cb&limit=20&node=n1&offset=60&search=web",
			path + "?id__in=a%2Cb&limit=20&node=n1&offset=20&search=web"},
		{"second page", "limit=20&offset=20", 0, 100,
			path + "?limit=20&offset=40", path + "?limit=20"},
		{"odd offset", "limit=20&offset=5", 0, 100,
			path + "?limit=20&offset=25", path + "?limit=20"},
		{"last page", "limit=20&offset=80", 0, 100, "", path + "?limit=20&offset=60"},
		{"exactly full", "limit=20&offset=60", 0, 80, "", path + "?limit=20&offset=40"},
		{"past the end", "limit=20&offset=200", 0, 100, "", path + "?limit=20&offset=180"},
		{"empty list", "limit=20", 0, 0, "", ""},
		{"schema cap", "", 50, 120, path + "?limit=50&offset=50", ""},
		{"schema cap with offset", "offset=50", 50, 120, path + "?limit=50&offset=100", path + "?limit=50"},
		{"repeated params kept", "node=b&node=a&limit=1", 0, 5, path + "?limit=1&node=b&node=a&offset=1", ""},
		{"encoded values kept", "name=a%26b+c&limit=1", 0, 5, path + "?limit=1&name=a%26b+c&offset=1", ""},
		{"next beyond MaxPage", "limit=1000000000&offset=1000000000", 0, 3_000_000_000, "",
			path + "?limit=1000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSchema()
			s.MaxLimit = tt.maxLimit
			u := &url.URL{Path: path, RawQuery: tt.raw}
			q, err := ParseRaw(s, u.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			if got := deref(q.Next(u, tt.count)); got != tt.next {
				t.Errorf("next\ngot  %q\nwant %q", got, tt.next)
			}
			if got := deref(q.Previous(u)); got != tt.previous {
				t.Errorf("previous\ngot  %q\nwant %q", got, tt.previous)
			}
		})
	}
}

func TestLinkEscapesPath(t *testing.T) {
	u, err := url.Parse("/api/v2/a%20b/?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseRaw(testSchema(), u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deref(q.Next(u, 3)), "/api/v2/a%20b/?limit=1&offset=1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Only the path is kept, whatever host the request URL carries.
	u.Scheme, u.Host = "http", "evil.example"
	if got, want := deref(q.Next(u, 3)), "/api/v2/a%20b/?limit=1&offset=1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
