package query

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func fuzzSchema(maxLimit int) *Schema {
	s := testSchema()
	// A compound column, so the trusted alphabet includes punctuation that
	// request text might also contain.
	s.Fields = append(s.Fields, Field{Name: "note", Column: "COALESCE(a.note, '')", Type: String, Search: true, Sort: true, Filter: true})
	s.MaxLimit = maxLimit
	return s
}

// sqlKeywords are the fixed tokens the renderer may emit besides columns.
var sqlKeywords = []string{
	"(", ")", ",", "?", "=", "<>", "<=", ">=", "<", ">", "-1", "1", "''", `'\'`,
	"AND", "OR", "IN", "IS", "NOT", "NULL", "LIKE", "ESCAPE", "LOWER", "REPLACE", "SUBSTR",
	"DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET",
}

// trusted reports whether sql is a space-separated concatenation of the
// schema's columns and the fixed keywords. If it is, no byte of request
// text can have reached the SQL except through the arguments.
func trusted(s *Schema, sql string) (bool, string) {
	tokens := slices.Clone(sqlKeywords)
	tokens = append(tokens, s.Tiebreak)
	for _, f := range s.Fields {
		tokens = append(tokens, f.Column)
	}
	// Longest first, so "<=" is not read as "<" followed by junk.
	slices.SortFunc(tokens, func(a, b string) int { return len(b) - len(a) })
	rest := sql
	for rest != "" {
		if rest[0] == ' ' {
			rest = rest[1:]
			continue
		}
		matched := false
		for _, tok := range tokens {
			if strings.HasPrefix(rest, tok) {
				rest = rest[len(tok):]
				matched = true
				break
			}
		}
		if !matched {
			return false, rest
		}
	}
	return true, ""
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"search=web&order=-name&fields=id,name&ip__icontains=10.&limit=20&offset=40&is_active=true&created__gte=2024-01-01T00:00:00Z&id__in=a,b",
		"name__contains=x&name__startswith=y&note__icontains=%25_%5C",
		"port__gte=1&port__lte=5&port__in=1,2,3&port__ne=0",
		"created=2024-01-01&created__lt=2024-01-01T00:00:00.5%2B02:00&created__isnull=false",
		"offset=10&node=a&format=csv",
		"name=x'%20OR%201=1--&order=note,-created",
		"name__regex=.*",
		"limit=0",
		"a=%zz",
		"name=a;b",
		"id__in=,,,",
		"search=%00",
		"order=-id&limit=1000000000&offset=999999999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, maxLimit := range []int{0, 50} {
			s := fuzzSchema(maxLimit)
			q, err := ParseRaw(s, raw)
			if err != nil {
				checkError(t, err)
				continue
			}
			checkQuery(t, s, q)
			checkLinks(t, s, q, raw)
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var qe *Error
	if !errors.As(err, &qe) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	if len(qe.Param) > maxEcho+len("...") {
		t.Fatalf("Param not clipped: %d bytes", len(qe.Param))
	}
	// Messages go to clients and logs, so request text in them must be
	// quoted: valid UTF-8, no control characters.
	msg := qe.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("invalid UTF-8 in %q", msg)
	}
	for _, r := range msg {
		if unicode.IsControl(r) {
			t.Fatalf("control character in %q", msg)
		}
	}
}

func checkQuery(t *testing.T, s *Schema, q Query) {
	t.Helper()
	where, args := q.Where()
	if ok, at := trusted(s, where); !ok {
		t.Fatalf("untrusted text in WHERE %q at %q", where, at)
	}
	if n := strings.Count(where, "?"); n != len(args) {
		t.Fatalf("WHERE %q has %d placeholders for %d args", where, n, len(args))
	}
	for _, a := range args {
		switch a := a.(type) {
		case int64, bool:
		case string:
			if !utf8.ValidString(a) || strings.IndexByte(a, 0) >= 0 {
				t.Fatalf("arg %q would be refused by PostgreSQL", a)
			}
		default:
			t.Fatalf("arg %#v has type %T", a, a)
		}
	}
	order := q.OrderBy(s)
	if ok, at := trusted(s, order); !ok || order == "" || strings.Contains(order, "?") {
		t.Fatalf("bad ORDER BY %q at %q", order, at)
	}
	for _, pg := range []bool{false, true} {
		page, pargs := q.Page(pg)
		if ok, at := trusted(s, page); !ok {
			t.Fatalf("untrusted text in page %q at %q", page, at)
		}
		if n := strings.Count(page, "?"); n != len(pargs) {
			t.Fatalf("page %q has %d placeholders for %d args", page, n, len(pargs))
		}
	}
	if q.Limit < 0 || q.Limit > MaxPage || q.Offset < 0 || q.Offset > MaxPage {
		t.Fatalf("limit %d offset %d out of range", q.Limit, q.Offset)
	}
	if s.MaxLimit > 0 && (q.Limit < 1 || q.Limit > s.MaxLimit) {
		t.Fatalf("limit %d escapes MaxLimit %d", q.Limit, s.MaxLimit)
	}
}

// checkLinks follows the next and previous links: they must parse to the
// same query with only the page moved, or paging would drift from what the
// client asked for.
func checkLinks(t *testing.T, s *Schema, q Query, raw string) {
	t.Helper()
	u := &url.URL{Path: "/api/v2/x/", RawQuery: raw}
	for _, l := range []struct {
		link   *string
		offset int
	}{
		{q.Next(u, q.Offset+q.Limit+1), q.Offset + q.Limit},
		{q.Previous(u), max(q.Offset-q.Limit, 0)},
	} {
		if l.link == nil {
			continue
		}
		lu, err := url.Parse(*l.link)
		if err != nil || lu.Path != u.Path || lu.Host != "" || lu.Scheme != "" {
			t.Fatalf("link %q: %v", *l.link, err)
		}
		q2, err := ParseRaw(s, lu.RawQuery)
		if err != nil {
			t.Fatalf("link %q does not parse: %v", *l.link, err)
		}
		if q2.Offset != l.offset || q2.Limit != q.Limit || !q2.HasLimit {
			t.Fatalf("link %q: limit %d offset %d, want %d %d", *l.link, q2.Limit, q2.Offset, q.Limit, l.offset)
		}
		w1, a1 := q.Where()
		w2, a2 := q2.Where()
		if w1 != w2 || !reflect.DeepEqual(a1, a2) || q.OrderBy(s) != q2.OrderBy(s) ||
			!reflect.DeepEqual(q.Fields, q2.Fields) || !reflect.DeepEqual(q.Extra, q2.Extra) {
			t.Fatalf("link %q changes the query", *l.link)
		}
	}
}
