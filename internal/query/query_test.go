package query

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func testSchema() *Schema {
	return &Schema{
		Fields: []Field{
			{Name: "id", Column: "a.id", Type: ID, Sort: true, Filter: true},
			{Name: "name", Column: "a.name", Type: String, Search: true, Sort: true, Filter: true},
			{Name: "ip", Column: "a.ip", Type: String, Search: true, Filter: true},
			{Name: "port", Column: "a.port", Type: Int, Sort: true, Filter: true},
			{Name: "is_active", Column: "a.is_active", Type: Bool, Filter: true},
			{Name: "created", Column: "a.date_created", Type: Time, Sort: true, Filter: true},
			{Name: "comment", Column: "a.comment", Type: String},
		},
		DefaultOrder: "name",
		Tiebreak:     "a.id",
		Extra:        []string{"format", "node"},
		Output:       []string{"id", "name", "ip", "nodes"},
	}
}

// summary is a Query flattened to comparable text, so test tables stay short.
type summary struct {
	Limit, Offset int
	HasLimit      bool
	Search        string
	Orders        []string
	Fields        []string
	Filters       []string
	Extra         url.Values
}

func summarize(q Query) summary {
	s := summary{Limit: q.Limit, Offset: q.Offset, HasLimit: q.HasLimit, Search: q.Search, Fields: q.Fields, Extra: q.Extra}
	for _, o := range q.Orders {
		name := o.Field.Name
		if o.Desc {
			name = "-" + name
		}
		s.Orders = append(s.Orders, name)
	}
	for _, f := range q.Filters {
		s.Filters = append(s.Filters, fmt.Sprintf("%s %v %#v", f.Field.Name, f.Op, f.Values))
	}
	return s
}

func TestParse(t *testing.T) {
	tests := []struct {
		raw  string
		want summary
	}{
		{"", summary{}},
		{"limit=20&offset=40", summary{Limit: 20, Offset: 40, HasLimit: true}},
		{"offset=5", summary{Offset: 5}},
		{"limit=1000000000&offset=1000000000", summary{Limit: MaxPage, Offset: MaxPage, HasLimit: true}},
		{"limit=007", summary{Limit: 7, HasLimit: true}},
		{"search=web", summary{Search: "web"}},
		{"search=", summary{}},
		{"order=-name,port", summary{Orders: []string{"-name", "port"}}},
		{"order=+name", summary{Orders: []string{"name"}}}, // '+' decodes to a space, which is trimmed
		{"order=", summary{}},
		{"fields=name,id,name", summary{Fields: []string{"name", "id"}}},
		{"fields=nodes", summary{Fields: []string{"nodes"}}},
		{"name=web", summary{Filters: []string{`name exact []interface {}{"web"}`}}},
		{"name__exact=web", summary{Filters: []string{`name exact []interface {}{"web"}`}}},
		{"name=", summary{Filters: []string{`name exact []interface {}{""}`}}},
		{"ip__icontains=10.", summary{Filters: []string{`ip icontains []interface {}{"10."}`}}},
		{"name__contains=eb&name__startswith=w", summary{Filters: []string{
			`name contains []interface {}{"eb"}`, `name startswith []interface {}{"w"}`}}},
		{"port__gte=1&port__lte=5&port__gt=-3&port__lt=%2B9&port__ne=4", summary{Filters: []string{
			`port gt []interface {}{-3}`, `port gte []interface {}{1}`, `port lt []interface {}{9}`,
			`port lte []interface {}{5}`, `port ne []interface {}{4}`}}},
		{"port__gte=1&port__gte=2", summary{Filters: []string{`port gte []interface {}{1}`, `port gte []interface {}{2}`}}},
		{"is_active=true", summary{Filters: []string{`is_active exact []interface {}{true}`}}},
		{"is_active=0", summary{Filters: []string{`is_active exact []interface {}{false}`}}},
		{"is_active=True&is_active__ne=False&is_active=1", summary{Filters: []string{
			`is_active exact []interface {}{true}`, `is_active exact []interface {}{true}`, `is_active ne []interface {}{false}`}}},
		{"id__in=a,b,,c", summary{Filters: []string{`id in []interface {}{"a", "b", "", "c"}`}}},
		{"port__in=1,2", summary{Filters: []string{`port in []interface {}{1, 2}`}}},
		{"id__isnull=true&created__isnull=0", summary{Filters: []string{
			`created isnull []interface {}{false}`, `id isnull []interface {}{true}`}}},
		{"created__gte=2024-01-01T00:00:00Z", summary{Filters: []string{
			`created gte []interface {}{time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)}`}}},
		{"created__lt=2024-01-01", summary{Filters: []string{
			`created lt []interface {}{time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)}`}}},
		{"created=2024-01-01T02:30:00.5%2B02:00", summary{Filters: []string{
			`created exact []interface {}{time.Date(2024, time.January, 1, 0, 30, 0, 500000000, time.UTC)}`}}},
		{"created__in=2024-01-01,2024-01-02T00:00:00Z", summary{Filters: []string{
			`created in []interface {}{time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, time.January, 2, 0, 0, 0, 0, time.UTC)}`}}},
		{"format=csv&node=n1&node=n2", summary{Extra: url.Values{"format": {"csv"}, "node": {"n1", "n2"}}}},
		{"name=" + strings.Repeat("x", MaxValueBytes), summary{Filters: []string{
			fmt.Sprintf(`name exact []interface {}{%q}`, strings.Repeat("x", MaxValueBytes))}}},
		{
			"search=web&order=-name&fields=id,name&ip__icontains=10.&limit=20&offset=40&is_active=true&created__gte=2024-01-01T00:00:00Z&id__in=a,b",
			summary{Limit: 20, Offset: 40, HasLimit: true, Search: "web", Orders: []string{"-name"}, Fields: []string{"id", "name"},
				Filters: []string{
					`created gte []interface {}{time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)}`,
					`id in []interface {}{"a", "b"}`,
					`ip icontains []interface {}{"10."}`,
					`is_active exact []interface {}{true}`,
				}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			v, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse(testSchema(), v)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := summarize(q); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		raw, param, detail string
	}{
		{"limit=0", "limit", "must be at least 1"},
		{"limit=-1", "limit", "must be a positive integer"},
		{"limit=abc", "limit", "must be a positive integer"},
		{"limit=", "limit", "must be a positive integer"},
		{"limit=%2B5", "limit", "must be a positive integer"},
		{"limit=1.5", "limit", "must be a positive integer"},
		{"limit=1000000001", "limit", "must be at most 1000000000"},
		{"limit=99999999999999999999999", "limit", "must be at most 1000000000"},
		{"limit=1&limit=2", "limit", "must be given at most once"},
		{"offset=-1", "offset", "must be a non-negative integer"},
		{"offset=x", "offset", "must be a non-negative integer"},
		{"offset=1000000001", "offset", "must be at most 1000000000"},
		{"offset=1&offset=1", "offset", "must be given at most once"},
		{"search=a&search=b", "search", "must be given at most once"},
		{"search=a%00b", "search", "must not contain NUL bytes"},
		{"search=%FF", "search", "must be valid UTF-8"},
		{"search=" + strings.Repeat("x", MaxValueBytes+1), "search", "must be at most 1024 bytes"},
		{"order=name&order=port", "order", "must be given at most once"},
		{"order=nme", "order", `unknown field "nme"`},
		{"order=ip", "order", `field "ip" cannot be used for ordering`},
		{"order=name,-name", "order", `field "name" is listed more than once`},
		{"order=name,", "order", "empty field name in the list"},
		{"order=-", "order", "empty field name in the list"},
		{"order=--name", "order", `unknown field "-name"`},
		{"fields=a&fields=b", "fields", "must be given at most once"},
		{"fields=port", "fields", `unknown field "port"`},
		{"fields=id,,name", "fields", "empty field name in the list"},
		{"nme=web", "nme", "unknown parameter"},
		{"Name=web", "Name", "unknown parameter"},
		{"=web", "", "unknown parameter"},
		{"page=2", "page", "unknown parameter"},
		{"comment=x", "comment", `field "comment" cannot be filtered on`},
		{"name__regex=.*", "name__regex", `unknown operator "regex"`},
		{"name__=x", "name__", `unknown operator ""`},
		{"name__icontains__x=y", "name__icontains__x", `unknown operator "icontains__x"`},
		{"format__in=x", "format__in", "unknown parameter"},
		{"id__icontains=a", "id__icontains", `operator "icontains" does not apply to id field "id"`},
		{"id__gte=a", "id__gte", `operator "gte" does not apply to id field "id"`},
		{"port__contains=1", "port__contains", `operator "contains" does not apply to int field "port"`},
		{"is_active__lt=true", "is_active__lt", `operator "lt" does not apply to bool field "is_active"`},
		{"created__startswith=2024", "created__startswith", `operator "startswith" does not apply to time field "created"`},
		{"port=abc", "port", "must be an integer"},
		{"port=1e3", "port", "must be an integer"},
		{"port=9223372036854775808", "port", "is out of range for a 64-bit integer"},
		{"port__in=1,x", "port__in", "item 2: must be an integer"},
		{"port__in=", "port__in", "item 1: must be an integer"},
		{"is_active=yes", "is_active", "must be true or false"},
		{"is_active=TRUE", "is_active", "must be true or false"},
		{"name__isnull=maybe", "name__isnull", "must be true or false"},
		{"created=yesterday", "created", "must be an RFC 3339 time or a date (YYYY-MM-DD)"},
		{"created=2024-01-01T00:00:00+02:00", "created", "must be an RFC 3339 time or a date (YYYY-MM-DD); encode '+' in an offset as %2B"},
		{"created=2024-13-01", "created", "must be an RFC 3339 time or a date (YYYY-MM-DD)"},
		{"created=2024-01-01T00:00:00", "created", "must be an RFC 3339 time or a date (YYYY-MM-DD)"},
		{"created=9999-12-31T23:00:00-05:00", "created", "must be between years 0000 and 9999 in UTC"},
		{"created=0000-01-01T00:00:00%2B01:00", "created", "must be between years 0000 and 9999 in UTC"},
		{"name=a%00", "name", "must not contain NUL bytes"},
		{"id=%C3%28", "id", "must be valid UTF-8"},
		{"name=" + strings.Repeat("x", MaxValueBytes+1), "name", "must be at most 1024 bytes"},
		{"id__in=a," + strings.Repeat("x", MaxValueBytes+1), "id__in", "item 2: must be at most 1024 bytes"},
		{"id__in=" + strings.Repeat("a,", MaxListItems), "id__in", "must have at most 1000 items"},
		{"port=1&nme=x", "nme", "unknown parameter"},
		{"b_unknown=1&a_unknown=1", "a_unknown", "unknown parameter"},
		{strings.Repeat("x", 100) + "=1", strings.Repeat("x", 64) + "...", "unknown parameter"},
	}
	for _, tt := range tests {
		name := tt.raw
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(testSchema(), v)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if qe.Param != tt.param || qe.Detail != tt.detail {
				t.Errorf("got Param %q Detail %q\nwant Param %q Detail %q", qe.Param, qe.Detail, tt.param, tt.detail)
			}
		})
	}
}

func TestParseInListSizes(t *testing.T) {
	s := testSchema()
	ok := "id__in=" + strings.TrimSuffix(strings.Repeat("a,", MaxListItems), ",")
	q, err := ParseRaw(s, ok)
	if err != nil {
		t.Fatalf("%d items: %v", MaxListItems, err)
	}
	if n := len(q.Filters[0].Values); n != MaxListItems {
		t.Fatalf("got %d values", n)
	}

	// Repeating a full list must hit the request-wide cap, not the databases'
	// parameter limits.
	raw := strings.Repeat(ok+"&", MaxFilterValues/MaxListItems+1)
	_, err = ParseRaw(s, raw)
	var qe *Error
	if !errors.As(err, &qe) || qe.Param != "id__in" || !strings.Contains(qe.Detail, "too many filter values") {
		t.Fatalf("got %v", err)
	}
}

func TestParseMaxLimit(t *testing.T) {
	s := testSchema()
	s.MaxLimit = 100
	tests := []struct {
		raw      string
		limit    int
		hasLimit bool
		param    string
	}{
		{"", 100, false, ""},
		{"offset=300", 100, false, ""},
		{"limit=100", 100, true, ""},
		{"limit=5", 5, true, ""},
		{"limit=101", 0, false, "limit"},
	}
	for _, tt := range tests {
		q, err := ParseRaw(s, tt.raw)
		if tt.param != "" {
			var qe *Error
			if !errors.As(err, &qe) || qe.Param != tt.param || qe.Detail != "must be at most 100" {
				t.Errorf("%q: got %v", tt.raw, err)
			}
			continue
		}
		if err != nil || q.Limit != tt.limit || q.HasLimit != tt.hasLimit {
			t.Errorf("%q: got %d %v %v, want %d %v", tt.raw, q.Limit, q.HasLimit, err, tt.limit, tt.hasLimit)
		}
	}
}

func TestParseSearchUnsupported(t *testing.T) {
	s := &Schema{Fields: []Field{{Name: "id", Column: "x.id", Type: ID, Filter: true}}, Tiebreak: "x.id"}
	_, err := ParseRaw(s, "search=a")
	var qe *Error
	if !errors.As(err, &qe) || qe.Param != "search" {
		t.Fatalf("got %v", err)
	}
	// An empty search asks for nothing, so it is not an error.
	if _, err := ParseRaw(s, "search="); err != nil {
		t.Fatal(err)
	}
}

func TestParseFieldsWithoutOutput(t *testing.T) {
	s := testSchema()
	s.Output = nil
	q, err := ParseRaw(s, "fields=comment,port")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Fields, []string{"comment", "port"}) {
		t.Fatalf("got %q", q.Fields)
	}
	if _, err := ParseRaw(s, "fields=nodes"); err == nil {
		t.Fatal("nodes accepted without Output")
	}
}

func TestParseExtraIsCopied(t *testing.T) {
	v := url.Values{"node": {"n1"}}
	q, err := Parse(testSchema(), v)
	if err != nil {
		t.Fatal(err)
	}
	v["node"][0] = "changed"
	if got := q.Extra.Get("node"); got != "n1" {
		t.Fatalf("Extra shares the caller's slice: %q", got)
	}
}

func TestParseRaw(t *testing.T) {
	q, err := ParseRaw(testSchema(), "name=a+b&&ip__icontains=10.%25&node=x%2Cy")
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(q)
	want := summary{
		Filters: []string{`ip icontains []interface {}{"10.%"}`, `name exact []interface {}{"a b"}`},
		Extra:   url.Values{"node": {"x,y"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	bad := []struct{ raw, param string }{
		{"name=%zz", "name"},
		{"na%zzme=x", "na%zzme"},
		{"name=a;port=1", "name"},
		{"limit=1;", "limit"},
	}
	for _, tt := range bad {
		_, err := ParseRaw(testSchema(), tt.raw)
		var qe *Error
		if !errors.As(err, &qe) || qe.Param != tt.param {
			t.Errorf("%q: got %v, want error on %q", tt.raw, err, tt.param)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Param: "limit", Detail: "must be at least 1"}
	if got, want := e.Error(), `invalid query parameter "limit": must be at least 1`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Request text in a message is quoted, so control bytes cannot forge
	// log lines or break out of the message.
	e = &Error{Param: "a\nb", Detail: "unknown parameter"}
	if got := e.Error(); strings.ContainsRune(got, '\n') {
		t.Fatalf("unquoted newline in %q", got)
	}
}

func TestValidate(t *testing.T) {
	good := testSchema()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*Schema)
	}{
		{"nil fields ok but no tiebreak", func(s *Schema) { s.Tiebreak = "" }},
		{"tiebreak placeholder", func(s *Schema) { s.Tiebreak = "a.id = ?" }},
		{"empty name", func(s *Schema) { s.Fields[0].Name = "" }},
		{"double underscore", func(s *Schema) { s.Fields[0].Name = "a__b" }},
		{"reserved name", func(s *Schema) { s.Fields[0].Name = "limit" }},
		{"odd name", func(s *Schema) { s.Fields[0].Name = "-id" }},
		{"duplicate field", func(s *Schema) { s.Fields[1].Name = "id" }},
		{"empty column", func(s *Schema) { s.Fields[0].Column = " " }},
		{"column placeholder", func(s *Schema) { s.Fields[0].Column = "a.id + ?" }},
		{"bad type", func(s *Schema) { s.Fields[0].Type = 99 }},
		{"search on int", func(s *Schema) { s.Fields[3].Search = true }},
		{"search on id", func(s *Schema) { s.Fields[0].Search = true }},
		{"extra is field", func(s *Schema) { s.Extra = []string{"name"} }},
		{"extra reserved", func(s *Schema) { s.Extra = []string{"order"} }},
		{"extra twice", func(s *Schema) { s.Extra = []string{"x", "x"} }},
		{"output twice", func(s *Schema) { s.Output = []string{"id", "id"} }},
		{"output empty", func(s *Schema) { s.Output = []string{""} }},
		{"negative max", func(s *Schema) { s.MaxLimit = -1 }},
		{"default order unknown", func(s *Schema) { s.DefaultOrder = "nope" }},
		{"default order twice", func(s *Schema) { s.DefaultOrder = "name,-name" }},
	}
	for _, tt := range tests {
		s := testSchema()
		tt.mutate(s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	var nilSchema *Schema
	if nilSchema.Validate() == nil {
		t.Error("nil schema accepted")
	}

	// The default order may use a field clients cannot sort on.
	s := testSchema()
	s.DefaultOrder = "-ip"
	if err := s.Validate(); err != nil {
		t.Errorf("default order on unsortable field: %v", err)
	}
}

func TestParsePanicsOnBadSchema(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Parse(&Schema{}, nil)
}

func TestStringers(t *testing.T) {
	for op := Eq; op <= IsNull; op++ {
		got, ok := opByName(op.String())
		if !ok || got != op {
			t.Errorf("op %d: name %q does not round-trip", op, op)
		}
	}
	if got := Op(99).String(); got != "Op(99)" {
		t.Errorf("got %q", got)
	}
	if got := Time.String(); got != "time" {
		t.Errorf("got %q", got)
	}
	if got := Type(-1).String(); got != "Type(-1)" {
		t.Errorf("got %q", got)
	}
}

func TestParseRawTooManyParams(t *testing.T) {
	if _, err := ParseRaw(testSchema(), strings.Repeat("node=a&", MaxParams-1)+"node=b"); err != nil {
		t.Fatalf("%d params: %v", MaxParams, err)
	}
	_, err := ParseRaw(testSchema(), strings.Repeat("node=a&", MaxParams)+"node=b")
	var qe *Error
	if !errors.As(err, &qe) || qe.Param != "" {
		t.Fatalf("got %v", err)
	}
}
