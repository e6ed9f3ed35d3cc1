package query_test

import (
	"fmt"
	"net/url"

	"github.com/postern/postern/internal/query"
)

var assets = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "a.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "a.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "ip", Column: "a.ip", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "is_active", Column: "a.is_active", Type: query.Bool, Filter: true},
		{Name: "date_created", Column: "a.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "a.id",
	Extra:        []string{"node"},
	MaxLimit:     100,
}

func Example() {
	u, _ := url.Parse("/api/v2/assets/assets/?search=web&order=-date_created&ip__icontains=10.&limit=20&offset=40&is_active=true&date_created__gte=2024-01-01&node=n1")
	q, err := query.ParseRaw(assets, u.RawQuery)
	if err != nil {
		fmt.Println(err) // reported to the client as a 400
		return
	}
	where, args := q.Where()
	page, pargs := q.Page(false)
	fmt.Println("WHERE", where)
	fmt.Println("ORDER BY", q.OrderBy(assets)+page)
	fmt.Println(append(args, pargs...)...)
	fmt.Println(*q.Next(u, 100))
	fmt.Println(*q.Previous(u))
	fmt.Println(q.Extra.Get("node"))

	_, err = query.ParseRaw(assets, "is_activ=true")
	fmt.Println(err)
	// Output:
	// WHERE a.date_created >= ? AND LOWER(a.ip) LIKE LOWER(?) ESCAPE '\' AND a.is_active = ? AND (LOWER(a.name) LIKE LOWER(?) ESCAPE '\' OR LOWER(a.ip) LIKE LOWER(?) ESCAPE '\')
	// ORDER BY a.date_created DESC NULLS FIRST, a.id DESC LIMIT ? OFFSET ?
	// 2024-01-01T00:00:00.000000000Z %10.% true %web% %web% 20 40
	// /api/v2/assets/assets/?date_created__gte=2024-01-01&ip__icontains=10.&is_active=true&limit=20&node=n1&offset=60&order=-date_created&search=web
	// /api/v2/assets/assets/?date_created__gte=2024-01-01&ip__icontains=10.&is_active=true&limit=20&node=n1&offset=20&order=-date_created&search=web
	// n1
	// invalid query parameter "is_activ": unknown parameter
}
