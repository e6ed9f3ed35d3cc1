package query

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Where renders filters and search to "cond AND cond ..." ("" when none) and
// its args. Each condition that contains OR is parenthesised, so the result
// can be ANDed with other conditions as it is. Every value is a bound
// argument: the SQL text holds only trusted columns, keywords and '?'.
//
// Matching is case-sensitive except for __icontains and search, which lower
// both sides in SQL rather than lowering the value in Go: SQLite's LOWER
// folds ASCII letters only, and folding both sides in the same database
// keeps them consistent. So on SQLite "émile" does not find "Émile", while
// on PostgreSQL it does. String comparisons (__gt etc.) follow the
// database's collation.
//
// Where panics if a Filter's Values do not fit its Op; Parse never builds
// such a Filter, so this only catches a handler's own malformed Filter.
func (q Query) Where() (string, []any) {
	var conds []string
	var args []any
	for _, f := range q.Filters {
		c, a := f.sql()
		conds = append(conds, c)
		args = append(args, a...)
	}
	if q.Search != "" && len(q.SearchFields) > 0 {
		pattern := "%" + escapeLike(q.Search) + "%"
		terms := make([]string, len(q.SearchFields))
		for i, f := range q.SearchFields {
			terms[i] = "LOWER(" + f.Column + `) LIKE LOWER(?) ESCAPE '\'`
			args = append(args, pattern)
		}
		conds = append(conds, "("+strings.Join(terms, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}

func (f Filter) sql() (string, []any) {
	col := f.Field.Column
	want := 1
	switch f.Op {
	case In:
		want = len(f.Values)
		if want == 0 {
			panic(fmt.Sprintf("query: In filter on %q has no values", f.Field.Name))
		}
	case Eq, Ne, Gt, Gte, Lt, Lte, IContains, Contains, StartsWith, IsNull:
	default:
		panic(fmt.Sprintf("query: filter on %q has unknown op %v", f.Field.Name, f.Op))
	}
	if len(f.Values) != want {
		panic(fmt.Sprintf("query: %v filter on %q has %d values", f.Op, f.Field.Name, len(f.Values)))
	}
	switch f.Op {
	case Eq:
		return col + " = ?", []any{bind(f.Values[0])}
	case Ne:
		return col + " <> ?", []any{bind(f.Values[0])}
	case Gt:
		return col + " > ?", []any{bind(f.Values[0])}
	case Gte:
		return col + " >= ?", []any{bind(f.Values[0])}
	case Lt:
		return col + " < ?", []any{bind(f.Values[0])}
	case Lte:
		return col + " <= ?", []any{bind(f.Values[0])}
	case In:
		args := make([]any, len(f.Values))
		for i, v := range f.Values {
			args[i] = bind(v)
		}
		return col + " IN (" + placeholders(len(args)) + ")", args
	case IsNull:
		isNull, ok := f.Values[0].(bool)
		if !ok {
			panic(fmt.Sprintf("query: isnull filter on %q needs a bool, not %T", f.Field.Name, f.Values[0]))
		}
		if isNull {
			return col + " IS NULL", nil
		}
		return col + " IS NOT NULL", nil
	case IContains:
		return "LOWER(" + col + `) LIKE LOWER(?) ESCAPE '\'`, []any{"%" + escapeLike(text(f)) + "%"}
	}

	// Contains and StartsWith avoid LIKE: SQLite's LIKE ignores ASCII case
	// and PostgreSQL's does not, and neither has the other's substring
	// function (instr, strpos). REPLACE and SUBSTR behave alike in both.
	s := text(f)
	if s == "" {
		// Every string contains and starts with "", but the forms below
		// would say otherwise (REPLACE of "" is a no-op).
		return col + " IS NOT NULL", nil
	}
	if f.Op == Contains {
		return "REPLACE(" + col + ", ?, '') <> " + col, []any{s}
	}
	// Both databases count SUBSTR and the length in characters; values
	// are valid UTF-8, so the rune count is that length.
	return "SUBSTR(" + col + ", 1, ?) = ?", []any{int64(utf8.RuneCountInString(s)), s}
}

func text(f Filter) string {
	s, ok := f.Values[0].(string)
	if !ok {
		panic(fmt.Sprintf("query: %v filter on %q needs a string, not %T", f.Op, f.Field.Name, f.Values[0]))
	}
	return s
}

// bind converts a filter value to the argument bound for it. Times become
// TimeLayout text because that is how they are stored (see the package
// documentation); plain ints are widened so every integer argument has one
// type.
func bind(v any) any {
	switch v := v.(type) {
	case time.Time:
		return FormatTime(v)
	case int:
		return int64(v)
	}
	return v
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return likeEscaper.Replace(s)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// OrderBy renders "col DESC NULLS FIRST, col2 NULLS LAST, tiebreak": the
// request's order, or the schema's default, then the schema's Tiebreak so
// that rows with equal sort keys still come in the same order on every page.
// The tiebreak is left out when an ordered column already is it.
//
// NULL placement is spelt out because the databases disagree (SQLite sorts
// NULL lowest, PostgreSQL highest), and a list should page the same way on
// both. PostgreSQL's own default is the one spelt out, so its plain indexes
// still serve the ORDER BY. The tiebreak needs none: it is a unique key.
//
// OrderBy panics if s is invalid (see Schema.Validate).
func (q Query) OrderBy(s *Schema) string {
	mustValidate(s)
	orders := q.Orders
	if len(orders) == 0 {
		orders, _ = parseOrder(s, s.DefaultOrder, false)
	}
	terms := make([]string, 0, len(orders)+1)
	unique := false
	for _, o := range orders {
		col := o.Field.Column
		plain := col == s.Tiebreak || o.Field.NotNull
		switch {
		case plain && o.Desc:
			terms = append(terms, col+" DESC")
		case plain:
			terms = append(terms, col)
		case o.Desc:
			terms = append(terms, col+" DESC NULLS FIRST")
		default:
			terms = append(terms, col+" NULLS LAST")
		}
		unique = unique || col == s.Tiebreak
	}
	if !unique {
		// The tiebreak runs the same way as the last term, so that an
		// index on (that column, id) can give the whole order.
		if len(orders) > 0 && orders[len(orders)-1].Desc {
			terms = append(terms, s.Tiebreak+" DESC")
		} else {
			terms = append(terms, s.Tiebreak)
		}
	}
	return strings.Join(terms, ", ")
}

// Page renders " LIMIT ? OFFSET ?" and its args, or less when there is no
// limit or no offset ("" and nil when neither). SQLite cannot take OFFSET
// without LIMIT, so an offset alone becomes "LIMIT -1 OFFSET ?" there and a
// bare "OFFSET ?" on PostgreSQL, which rejects a negative limit.
func (q Query) Page(postgres bool) (string, []any) {
	switch {
	case q.Limit > 0 && q.Offset > 0:
		return " LIMIT ? OFFSET ?", []any{int64(q.Limit), int64(q.Offset)}
	case q.Limit > 0:
		return " LIMIT ?", []any{int64(q.Limit)}
	case q.Offset > 0 && postgres:
		return " OFFSET ?", []any{int64(q.Offset)}
	case q.Offset > 0:
		return " LIMIT -1 OFFSET ?", []any{int64(q.Offset)}
	}
	return "", nil
}
