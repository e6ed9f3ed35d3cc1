package query

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestWhere(t *testing.T) {
	tests := []struct {
		raw  string
		sql  string
		args []any
	}{
		{"", "", nil},
		{"limit=5&order=-name&fields=id&node=x", "", nil},
		{"name=web", "a.name = ?", []any{"web"}},
		{"name__ne=web", "a.name <> ?", []any{"web"}},
		{"port__gt=1", "a.port > ?", []any{int64(1)}},
		{"port__gte=1&port__lte=5", "a.port >= ? AND a.port <= ?", []any{int64(1), int64(5)}},
		{"port__lt=-2", "a.port < ?", []any{int64(-2)}},
		{"is_active=false", "a.is_active = ?", []any{false}},
		{"id__in=a,b,c", "a.id IN (?, ?, ?)", []any{"a", "b", "c"}},
		{"port__in=7", "a.port IN (?)", []any{int64(7)}},
		{"id__isnull=true", "a.id IS NULL", nil},
		{"id__isnull=false", "a.id IS NOT NULL", nil},
		{"ip__icontains=10.", `LOWER(a.ip) LIKE LOWER(?) ESCAPE '\'`, []any{"%10.%"}},
		{"name__contains=Web", "REPLACE(a.name, ?, '') <> a.name", []any{"Web"}},
		{"name__contains=", "a.name IS NOT NULL", nil},
		{"name__startswith=wé", "SUBSTR(a.name, 1, ?) = ?", []any{int64(2), "wé"}},
		{"name__startswith=", "a.name IS NOT NULL", nil},
		{"created__gte=2024-01-01T00:00:00Z", "a.date_created >= ?", []any{"2024-01-01T00:00:00.000000000Z"}},
		{"created=2024-06-30T23:59:59.123%2B02:00", "a.date_created = ?", []any{"2024-06-30T21:59:59.123000000Z"}},
		{"created__in=2024-01-01,0001-02-03", "a.date_created IN (?, ?)",
			[]any{"2024-01-01T00:00:00.000000000Z", "0001-02-03T00:00:00.000000000Z"}},
		{"search=Web", `(LOWER(a.name) LIKE LOWER(?) ESCAPE '\' OR LOWER(a.ip) LIKE LOWER(?) ESCAPE '\')`,
			[]any{"%Web%", "%Web%"}},
		{
			"search=web&ip__icontains=10.&is_active=true&created__gte=2024-01-01&id__in=a,b",
			`a.date_created >= ? AND a.id IN (?, ?) AND LOWER(a.ip) LIKE LOWER(?) ESCAPE '\' AND a.is_active = ? AND ` +
				`(LOWER(a.name) LIKE LOWER(?) ESCAPE '\' OR LOWER(a.ip) LIKE LOWER(?) ESCAPE '\')`,
			[]any{"2024-01-01T00:00:00.000000000Z", "a", "b", "%10.%", true, "%web%", "%web%"},
		},
		// Values that look like SQL stay in the arguments.
		{"name=x'%20OR%201=1--", "a.name = ?", []any{"x' OR 1=1--"}},
		{"id__in=?,?", "a.id IN (?, ?)", []any{"?", "?"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, err := ParseRaw(testSchema(), tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			sql, args := q.Where()
			if sql != tt.sql {
				t.Errorf("sql\ngot  %s\nwant %s", sql, tt.sql)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("args\ngot  %#v\nwant %#v", args, tt.args)
			}
			if n := strings.Count(sql, "?"); n != len(args) {
				t.Errorf("%d placeholders, %d args", n, len(args))
			}
		})
	}
}

func TestEscapeLike(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"100%", `100\%`},
		{"a_b", `a\_b`},
		{`C:\dir`, `C:\\dir`},
		{`\%_`, `\\\%\_`},
		{`%%`, `\%\%`},
		{"[x]*", "[x]*"}, // not special to LIKE
	}
	for _, tt := range tests {
		if got := escapeLike(tt.in); got != tt.want {
			t.Errorf("escapeLike(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	q, err := ParseRaw(testSchema(), `search=50%25_off%5C&name__icontains=_`)
	if err != nil {
		t.Fatal(err)
	}
	_, args := q.Where()
	want := []any{`%\_%`, `%50\%\_off\\%`, `%50\%\_off\\%`}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("got %#v, want %#v", args, want)
	}
}

func TestWhereHandlerFilter(t *testing.T) {
	// A handler may force a condition by appending its own Filter, with
	// plain Go values.
	s := testSchema()
	q, err := ParseRaw(s, "name=web")
	if err != nil {
		t.Fatal(err)
	}
	port := s.field("port")
	created := s.field("created")
	loc := time.FixedZone("X", 3600)
	q.Filters = append(q.Filters,
		Filter{Field: port, Op: In, Values: []any{1, int64(2)}},
		Filter{Field: created, Op: Lt, Values: []any{time.Date(2024, 1, 1, 1, 0, 0, 0, loc)}},
	)
	sql, args := q.Where()
	if want := "a.name = ? AND a.port IN (?, ?) AND a.date_created < ?"; sql != want {
		t.Errorf("got %s", sql)
	}
	if want := []any{"web", int64(1), int64(2), "2024-01-01T00:00:00.000000000Z"}; !reflect.DeepEqual(args, want) {
		t.Errorf("got %#v", args)
	}

	for _, f := range []Filter{
		{Field: port, Op: In},
		{Field: port, Op: Eq},
		{Field: port, Op: Op(42), Values: []any{1}},
		{Field: port, Op: IsNull, Values: []any{"yes"}},
		{Field: port, Op: Contains, Values: []any{1}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", f)
				}
			}()
			Query{Filters: []Filter{f}}.Where()
		}()
	}
}

func TestTimeLayoutOrdersLexically(t *testing.T) {
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 100, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := FormatTime(times[i-1]), FormatTime(times[i])
		if len(a) != len(TimeLayout) || len(b) != len(TimeLayout) {
			t.Fatalf("not fixed width: %q %q", a, b)
		}
		if a >= b {
			t.Errorf("%q >= %q", a, b)
		}
	}
	if got := FormatTime(time.Date(2024, 1, 1, 2, 0, 0, 0, time.FixedZone("", 7200))); got != "2024-01-01T00:00:00.000000000Z" {
		t.Errorf("got %q", got)
	}
}

func TestOrderBy(t *testing.T) {
	tests := []struct {
		name, raw string
		mutate    func(*Schema)
		want      string
	}{
		{"default", "", nil, "a.name NULLS LAST, a.id"},
		{"requested", "order=-name,port", nil, "a.name DESC NULLS FIRST, a.port NULLS LAST, a.id"},
		{"tiebreak follows the last term", "order=-name", nil, "a.name DESC NULLS FIRST, a.id DESC"},
		{"desc default", "", func(s *Schema) { s.DefaultOrder = "-created,port" }, "a.date_created DESC NULLS FIRST, a.port NULLS LAST, a.id"},
		{"no default", "", func(s *Schema) { s.DefaultOrder = "" }, "a.id"},
		{"tiebreak ordered", "order=-id", nil, "a.id DESC"},
		{"tiebreak first", "order=id,name", nil, "a.id, a.name NULLS LAST"},
	}
	for _, tt := range tests {
		s := testSchema()
		if tt.mutate != nil {
			tt.mutate(s)
		}
		q, err := ParseRaw(s, tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.OrderBy(s); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPage(t *testing.T) {
	tests := []struct {
		limit, offset int
		postgres      bool
		sql           string
		args          []any
	}{
		{0, 0, false, "", nil},
		{0, 0, true, "", nil},
		{20, 0, false, " LIMIT ?", []any{int64(20)}},
		{20, 0, true, " LIMIT ?", []any{int64(20)}},
		{20, 40, false, " LIMIT ? OFFSET ?", []any{int64(20), int64(40)}},
		{20, 40, true, " LIMIT ? OFFSET ?", []any{int64(20), int64(40)}},
		{0, 40, false, " LIMIT -1 OFFSET ?", []any{int64(40)}},
		{0, 40, true, " OFFSET ?", []any{int64(40)}},
	}
	for _, tt := range tests {
		sql, args := Query{Limit: tt.limit, Offset: tt.offset}.Page(tt.postgres)
		if sql != tt.sql || !reflect.DeepEqual(args, tt.args) {
			t.Errorf("limit %d offset %d postgres %v: got %q %#v, want %q %#v",
				tt.limit, tt.offset, tt.postgres, sql, args, tt.sql, tt.args)
		}
	}
}
