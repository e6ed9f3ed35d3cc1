package e2etmp

import (
	"database/sql"
	"fmt"
	"math/rand"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/postern/postern/internal/query"
)

var schema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "a.id", Type: query.ID, Sort: true, Filter: true},
		{Name: "name", Column: "a.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "ip", Column: "a.ip", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "port", Column: "a.port", Type: query.Int, Sort: true, Filter: true},
		{Name: "is_active", Column: "a.is_active", Type: query.Bool, Sort: true, Filter: true},
		{Name: "created", Column: "a.created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "a.id",
}

type row struct {
	id, name, ip string
	port         any
	active       bool
	created      any
}

var rows = []row{
	{"r01", "Web-1", "10.0.0.1", 22, true, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	{"r02", "web-2", "10.0.0.2", 2222, false, time.Date(2024, 1, 2, 12, 0, 0, 5, time.UTC)},
	{"r03", "DB_main", "192.168.1.10", 5432, true, time.Date(2023, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	{"r04", "db%backup", "192.168.1.11", nil, true, nil},
	{"r05", `path\name`, "fe80::1", 3389, false, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
	{"r06", "Émile", "10.1.0.1", 22, true, time.Date(2024, 1, 1, 0, 0, 0, 1000, time.UTC)},
	{"r07", "émile", "10.1.0.2", 22, true, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	{"r08", "", "", 0, false, time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)},
	{"r09", "webby", "10.0.0.10", -5, true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
	{"r10", "WEB", "10.0.0.9", 80, true, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
}

func open(t *testing.T, driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("DROP TABLE IF EXISTS items")
	if _, err := db.Exec(`CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, ip TEXT, port INTEGER, is_active BOOLEAN NOT NULL, created TEXT)`); err != nil {
		t.Fatal(err)
	}
	pg := driver == "pgx"
	for _, r := range rows {
		var c any
		if tm, ok := r.created.(time.Time); ok {
			c = query.FormatTime(tm)
		}
		if _, err := db.Exec(rebind("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", pg), r.id, r.name, r.ip, r.port, r.active, c); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func rebind(s string, pg bool) string {
	if !pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func run(db *sql.DB, pg bool, q query.Query) ([]string, error) {
	where, args := q.Where()
	page, pargs := q.Page(pg)
	stmt := "SELECT a.id FROM items a"
	if where != "" {
		stmt += " WHERE " + where
	}
	stmt += " ORDER BY " + q.OrderBy(schema) + page
	rs, err := db.Query(rebind(stmt, pg), append(args, pargs...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}
	defer rs.Close()
	var ids []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

func TestE2E(t *testing.T) {
	lite := open(t, "sqlite", "file:/tmp/qpg/e2e.db")
	pgdb := open(t, "pgx", "host=/tmp/qpg port=55439 user=postgres dbname=postgres sslmode=disable")
	cases := map[string]string{
		"order=id":                                  "r01 r02 r03 r04 r05 r06 r07 r08 r09 r10",
		"order=id&limit=3&offset=2":                 "r03 r04 r05",
		"order=id&offset=8":                         "r09 r10",
		"order=-id&limit=2":                         "r10 r09",
		"order=id&name__icontains=web":              "r01 r02 r09 r10",
		"order=id&name__contains=web":               "r02 r09",
		"order=id&name__contains=":                  "r01 r02 r03 r04 r05 r06 r07 r08 r09 r10",
		"order=id&name__startswith=W":               "r01 r10",
		"order=id&name__startswith=%C3%89":          "r06",
		"order=id&name__startswith=web-":            "r02",
		"order=id&name__icontains=%25":              "r04",
		"order=id&name__icontains=_":                "r03",
		"order=id&name__icontains=%5C":              "r05",
		"order=id&name__contains=%5Cn":              "r05",
		"order=id&name=WEB":                         "r10",
		"order=id&search=WEB":                       "r01 r02 r09 r10",
		"order=id&search=192.168":                   "r03 r04",
		"order=id&search=%25":                       "r04",
		"order=id&port__gte=22&port__lt=3000":       "r01 r02 r06 r07 r10",
		"order=id&port__in=22,80":                   "r01 r06 r07 r10",
		"order=id&port__isnull=true":                "r04",
		"order=id&port__ne=22":                      "r02 r03 r05 r08 r09 r10",
		"order=id&is_active=false":                  "r02 r05 r08",
		"order=id&is_active__in=false,true&port=22": "r01 r06 r07",
		"order=id&created=2024-01-01":               "r01 r07 r10",
		"order=id&created__gt=2024-01-01":           "r02 r05 r06 r09",
		"order=id&created__gte=2024-01-01T01:00:00%2B01:00&created__lt=2024-01-02": "r01 r06 r07 r10",
		"order=id&created__lte=2023-12-31T23:59:59.999999999Z":                     "r03 r08",
		"order=id&created__isnull=true":                                            "r04",
		"order=-created,id&limit=4":                                                "r04 r05 r09 r02",
		"order=port,id&limit=3&offset=8":                                           "r05 r04",
		"order=id&id__in=r01,r03,zz":                                               "r01 r03",
		"order=id&name__icontains=%C3%A9mile":                                      "",
	}
	for raw, want := range cases {
		q, err := query.ParseRaw(schema, raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		a, err := run(lite, false, q)
		if err != nil {
			t.Fatalf("sqlite %s: %v", raw, err)
		}
		b, err := run(pgdb, true, q)
		if err != nil {
			t.Fatalf("pg %s: %v", raw, err)
		}
		got := strings.Join(a, " ")
		if got != want && want != "" {
			t.Errorf("%s: sqlite got %q want %q", raw, got, want)
		}
		if !reflect.DeepEqual(a, b) {
			t.Logf("%s: sqlite %v / pg %v", raw, a, b)
		}
	}

	// Random queries: every rendered statement must run on both, and give
	// the same rows where collation and case folding do not differ.
	rnd := rand.New(rand.NewSource(1))
	params := []string{"name", "name__icontains", "name__contains", "name__startswith", "ip__gte", "ip__lt", "port__gte", "port__lte", "port__in",
		"is_active", "created__gte", "created__lt", "created__isnull", "id__in", "name__ne", "search"}
	vals := map[string][]string{
		"port__gte": {"0", "22", "-10"}, "port__lte": {"100", "5432"}, "port__in": {"22,80", "0"},
		"is_active": {"true", "0"}, "created__gte": {"2024-01-01", "2024-01-01T00:00:00.000001Z"}, "created__lt": {"2024-02-01", "2025-01-01T00:00:00+05:00"},
		"created__isnull": {"false", "true"}, "id__in": {"r01,r02,r07", "r05"},
	}
	texts := []string{"web", "10.", "1", "%25", "_", "a", "b", "-", "db", ""}
	diff := 0
	for i := 0; i < 3000; i++ {
		v := url.Values{}
		for j := rnd.Intn(4); j > 0; j-- {
			p := params[rnd.Intn(len(params))]
			if vs, ok := vals[p]; ok {
				v.Add(p, vs[rnd.Intn(len(vs))])
			} else if p != "search" || v.Get("search") == "" {
				v.Set(p, texts[rnd.Intn(len(texts))])
			}
		}
		if rnd.Intn(2) == 0 {
			v.Set("limit", strconv.Itoa(1+rnd.Intn(4)))
		}
		if rnd.Intn(2) == 0 {
			v.Set("offset", strconv.Itoa(rnd.Intn(6)))
		}
		v.Set("order", []string{"id", "-port", "name", "-created", "is_active"}[rnd.Intn(5)])
		raw, _ := url.QueryUnescape(v.Encode())
		q, err := query.ParseRaw(schema, v.Encode())
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		a, err := run(lite, false, q)
		if err != nil {
			t.Fatalf("sqlite: %v", err)
		}
		b, err := run(pgdb, true, q)
		if err != nil {
			t.Fatalf("pg: %v", err)
		}
		if !reflect.DeepEqual(a, b) {
			diff++
			if diff < 15 {
				t.Logf("differ %s: sqlite %v pg %v", raw, a, b)
			}
		}
	}
	t.Logf("%d of 3000 random queries differ", diff)
}

func FuzzE2E(f *testing.F) {
	lite := openF(f, "sqlite", "file:/tmp/qpg/e2ef.db")
	pgdb := openF(f, "pgx", "host=/tmp/qpg port=55439 user=postgres dbname=postgres sslmode=disable")
	for _, s := range []string{"port__gte=9223372036854775807", "name__startswith=%C3%A9&search=x", "created__in=0000-01-01,9999-12-31T23:59:59.999999999Z",
		"id__in=a,b&order=-port&limit=1&offset=3", "offset=7", "ip__gt=%F0%9F%98%80", "name__contains=%5C%25", "port__in=-9223372036854775808,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := query.ParseRaw(schema, raw)
		if err != nil {
			return
		}
		if _, err := run(lite, false, q); err != nil {
			t.Fatalf("sqlite: %v", err)
		}
		if _, err := run(pgdb, true, q); err != nil {
			t.Fatalf("pg: %v", err)
		}
	})
}

func openF(f *testing.F, driver, dsn string) *sql.DB {
	t := &testing.T{}
	_ = t
	db, err := sql.Open(driver, dsn)
	if err != nil {
		f.Fatal(err)
	}
	db.Exec("DROP TABLE IF EXISTS items")
	if _, err := db.Exec(`CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, ip TEXT, port ` + portType + `, is_active BOOLEAN NOT NULL, created TEXT)`); err != nil {
		f.Fatal(err)
	}
	db.Exec(rebind("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", driver == "pgx"), "x", "Émile", "1.2.3.4", 5, true, query.FormatTime(time.Now()))
	return db
}

var portType = "BIGINT"
