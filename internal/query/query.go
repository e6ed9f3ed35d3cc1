// Package query turns the query string of a REST list request into a
// validated Query and renders it as SQL fragments for the store.
//
// It is the API's defence against malformed filters. Every parameter must be
// known to the resource's Schema, so a misspelt filter is a 400 rather than a
// silent "return everything"; every value is converted to its field's type
// before it reaches the database; and text from the request only ever reaches
// SQL as a bound argument. The SQL text itself is assembled solely from the
// schema's trusted columns, fixed keywords and '?' placeholders.
//
// Rendered SQL uses '?' placeholders only (the store rebinds them to $n for
// PostgreSQL) and is valid on both SQLite and PostgreSQL.
//
// Storage contract: times are stored as TEXT in TimeLayout in both databases,
// and time filter values are bound as strings of that layout. The layout is
// fixed-width UTC, so lexical order equals time order and plain comparison
// operators work without any dialect-specific date functions.
package query

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeLayout is the layout in which times are stored and bound. It always has
// nine fractional digits and a literal Z so that every stored time has the
// same width and lexical order is time order on both databases.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t in TimeLayout. The conversion to UTC matters: the
// layout's Z is a literal, so a non-UTC time would be stored mislabelled.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Limits on request input. They bound the work and the number of bound
// arguments a single request can cause, and keep every value well inside
// what both databases accept.
const (
	// MaxValueBytes is the longest accepted text value (a filter value, an
	// item of an __in list, or the search term).
	MaxValueBytes = 1024
	// MaxListItems is the most items one __in list may hold.
	MaxListItems = 1000
	// MaxFilterValues is the most filter values one request may carry in
	// total, so that repeating a 1000-item __in many times cannot push the
	// statement past the databases' bound-parameter limits.
	MaxFilterValues = 4096
	// MaxPage is the largest accepted limit or offset.
	MaxPage = 1_000_000_000
	// MaxParams is the most &-separated parameters ParseRaw accepts, the
	// same default limit net/url applies.
	MaxParams = 10000
)

// Names of the parameters Parse handles itself rather than as filters.
const (
	ParamLimit  = "limit"
	ParamOffset = "offset"
	ParamSearch = "search"
	ParamOrder  = "order"
	ParamFields = "fields"
)

var reserved = map[string]bool{
	ParamLimit: true, ParamOffset: true, ParamSearch: true, ParamOrder: true, ParamFields: true,
}

// Type is the type of a field's values, which decides how request text is
// converted and which operators apply.
//
// The column behind a field must accept what is bound for it on both
// databases, or a well-formed filter becomes a server error: String and ID
// columns are text, Int columns BIGINT (PostgreSQL will not bind an int64
// beyond int4's range to an INTEGER column), Bool columns BOOLEAN, and Time
// columns text in TimeLayout.
type Type int

// Field types.
const (
	// String is free text: exact, comparison, substring and prefix matches.
	String Type = iota
	// Int is a base-10 64-bit integer.
	Int
	// Bool accepts true/false/1/0/True/False.
	Bool
	// Time accepts RFC 3339 or a bare date (midnight UTC).
	Time
	// ID is an opaque identifier compared exactly; substring matching on
	// identifiers would only ever be a mistake or a probe.
	ID
)

var typeNames = [...]string{String: "string", Int: "int", Bool: "bool", Time: "time", ID: "id"}

// String returns the type's name as used in error messages.
func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return "Type(" + strconv.Itoa(int(t)) + ")"
	}
	return typeNames[t]
}

// Op is a filter operator, selected by the `__op` suffix of a parameter.
type Op int

// Filter operators. The comment gives the parameter suffix.
const (
	Eq         Op = iota // none, or __exact
	Ne                   // __ne
	Gt                   // __gt
	Gte                  // __gte
	Lt                   // __lt
	Lte                  // __lte
	In                   // __in, a comma-separated list
	IContains            // __icontains, case-insensitive substring
	Contains             // __contains, case-sensitive substring
	StartsWith           // __startswith, case-sensitive prefix
	IsNull               // __isnull, takes a Bool
)

var opNames = [...]string{
	Eq: "exact", Ne: "ne", Gt: "gt", Gte: "gte", Lt: "lt", Lte: "lte", In: "in",
	IContains: "icontains", Contains: "contains", StartsWith: "startswith", IsNull: "isnull",
}

// String returns the operator's suffix name, e.g. "gte".
func (o Op) String() string {
	if o < 0 || int(o) >= len(opNames) {
		return "Op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

func opByName(name string) (Op, bool) {
	for i, n := range opNames {
		if n == name {
			return Op(i), true
		}
	}
	return 0, false
}

// allows reports whether o may be applied to a field of type t. Ordering
// comparisons on Bool or ID mean nothing, and substring matching is only
// offered on free text.
func (o Op) allows(t Type) bool {
	switch o {
	case Eq, Ne, In, IsNull:
		return true
	case Gt, Gte, Lt, Lte:
		return t == String || t == Int || t == Time
	case IContains, Contains, StartsWith:
		return t == String
	}
	return false
}

// Field describes one filterable/sortable attribute of a resource.
type Field struct {
	Name   string // API name, e.g. "start_time"; letters, digits and single underscores
	Column string // SQL expression, e.g. "s.start_time" (trusted, from code)
	Type   Type
	Search bool // included in ?search= (case-insensitive substring, OR across search fields)
	Sort   bool // allowed in ?order=
	Filter bool // allowed as field filter
	// NotNull says the column is never NULL, so ordering on it needs no
	// NULLS FIRST/LAST (which keeps SQLite from reading the order off an
	// index: the big audit tables depend on that).
	NotNull bool
}

// Schema is a resource's list contract.
type Schema struct {
	Fields []Field
	// DefaultOrder is used when the request has no ?order=, in the same
	// syntax ("name", "-start_time", "a,-b"). It may name any field, sortable
	// or not, since it comes from code.
	DefaultOrder string
	// Tiebreak is the SQL column ordered on last so that paging is stable
	// even when the requested order has ties; it must be unique per row.
	Tiebreak string
	// Extra lists other parameters the handler reads itself (e.g. "format",
	// "node"); they are accepted, not filters, and passed through in
	// Query.Extra.
	Extra []string
	// Output lists the names accepted by ?fields= (response fields); if nil,
	// any Field name is accepted.
	Output []string
	// MaxLimit caps ?limit= (0 = no cap). A larger limit is a 400 rather
	// than a silent truncation, and a request with no limit gets MaxLimit
	// rows plus a next link, so the client always learns there is more.
	MaxLimit int
}

func (s *Schema) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// Filter is one validated condition. Values hold the converted values
// (string, int64, bool or time.Time): one for most operators, one per item
// for In, and a bool for IsNull. Handlers may append their own Filters to a
// parsed Query to force a condition.
type Filter struct {
	Field  *Field
	Op     Op
	Values []any
}

// Order is one ORDER BY term.
type Order struct {
	Field *Field
	Desc  bool
}

// Query is a validated list request.
type Query struct {
	// Limit is the page size; 0 means all rows, which happens only when the
	// request gave no limit and the schema has no MaxLimit.
	Limit  int
	Offset int
	// HasLimit reports whether the request itself gave ?limit=.
	HasLimit bool
	// Search is the ?search= term, "" for none.
	Search string
	// SearchFields are the schema's search fields, set by Parse when Search
	// is not empty; Where needs them because it has no schema.
	SearchFields []*Field
	// Orders is the requested order; empty means the schema's default.
	Orders []Order
	// Fields are the ?fields= names, validated against the schema's Output,
	// in request order without duplicates; empty means all.
	Fields []string
	// Filters are ANDed together.
	Filters []Filter
	// Extra holds the schema's Extra parameters, untouched.
	Extra url.Values
}

// Error is a rejected query parameter; the API reports it as a 400.
type Error struct {
	Param  string // the parameter's name as given (clipped if very long)
	Detail string // what is wrong with it
}

// Error returns e.g. `invalid query parameter "limit": must be at least 1`.
func (e *Error) Error() string {
	return fmt.Sprintf("invalid query parameter %q: %s", e.Param, e.Detail)
}

// maxEcho bounds how much request text an error message repeats back, so a
// megabyte-long parameter name does not become a megabyte-long error.
const maxEcho = 64

// clip shortens s to at most maxEcho bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func errorf(param, format string, args ...any) *Error {
	return &Error{Param: clip(param), Detail: fmt.Sprintf(format, args...)}
}

// ParseRaw is Parse for a raw query string (the request URL's RawQuery).
// Unlike url.URL.Query, which silently drops pairs it cannot decode, it
// reports them, so a mangled filter is not quietly ignored.
func ParseRaw(s *Schema, rawQuery string) (Query, error) {
	// net/url refuses longer queries outright, which would leave the
	// next/previous links without any of the request's parameters.
	if strings.Count(rawQuery, "&") >= MaxParams {
		return Query{}, errorf("", "the request has too many parameters (at most %d)", MaxParams)
	}
	v := url.Values{}
	for seg := range strings.SplitSeq(rawQuery, "&") {
		if seg == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(seg, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return Query{}, errorf(rawKey, "malformed percent-encoding in the name")
		}
		// Some proxies and frameworks split on ';' too; refusing it keeps
		// everyone agreeing on what the parameters are.
		if strings.Contains(seg, ";") {
			return Query{}, errorf(key, "unencoded ';' (encode it as %%3B; separate parameters with &)")
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return Query{}, errorf(key, "malformed percent-encoding in the value")
		}
		v[key] = append(v[key], val)
	}
	return Parse(s, v)
}

// Parse validates v against s. Errors are *Error. Parse panics if s itself is
// invalid (see Schema.Validate): that is a programming error, not a bad
// request.
func Parse(s *Schema, v url.Values) (Query, error) {
	mustValidate(s)
	var q Query

	if val, ok, err := single(v, ParamLimit); err != nil {
		return Query{}, err
	} else if ok {
		n, err := parseCount(ParamLimit, val, 1, "a positive integer")
		if err != nil {
			return Query{}, err
		}
		if s.MaxLimit > 0 && n > s.MaxLimit {
			return Query{}, errorf(ParamLimit, "must be at most %d", s.MaxLimit)
		}
		q.Limit, q.HasLimit = n, true
	} else {
		q.Limit = s.MaxLimit
	}

	if val, ok, err := single(v, ParamOffset); err != nil {
		return Query{}, err
	} else if ok {
		n, err := parseCount(ParamOffset, val, 0, "a non-negative integer")
		if err != nil {
			return Query{}, err
		}
		q.Offset = n
	}

	if val, ok, err := single(v, ParamSearch); err != nil {
		return Query{}, err
	} else if ok && val != "" {
		if d := checkText(val); d != "" {
			return Query{}, errorf(ParamSearch, "%s", d)
		}
		for i := range s.Fields {
			if s.Fields[i].Search {
				q.SearchFields = append(q.SearchFields, &s.Fields[i])
			}
		}
		if len(q.SearchFields) == 0 {
			return Query{}, errorf(ParamSearch, "this resource does not support search")
		}
		q.Search = val
	}

	if val, ok, err := single(v, ParamOrder); err != nil {
		return Query{}, err
	} else if ok && val != "" {
		orders, detail := parseOrder(s, val, true)
		if detail != "" {
			return Query{}, errorf(ParamOrder, "%s", detail)
		}
		q.Orders = orders
	}

	if val, ok, err := single(v, ParamFields); err != nil {
		return Query{}, err
	} else if ok && val != "" {
		fields, err := parseFields(s, val)
		if err != nil {
			return Query{}, err
		}
		q.Fields = fields
	}

	// Sorted so that the rendered SQL, and which error is reported first,
	// do not depend on map iteration order.
	total := 0
	for _, key := range slices.Sorted(maps.Keys(v)) {
		if reserved[key] {
			continue
		}
		if slices.Contains(s.Extra, key) {
			if q.Extra == nil {
				q.Extra = url.Values{}
			}
			q.Extra[key] = slices.Clone(v[key])
			continue
		}
		filters, err := parseFilter(s, key, v[key])
		if err != nil {
			return Query{}, err
		}
		for _, f := range filters {
			total += len(f.Values)
		}
		if total > MaxFilterValues {
			return Query{}, errorf(key, "the request has too many filter values (at most %d in all)", MaxFilterValues)
		}
		q.Filters = append(q.Filters, filters...)
	}
	return q, nil
}

// single returns the one value of a parameter that may not be repeated.
func single(v url.Values, name string) (string, bool, error) {
	vals := v[name]
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
		return vals[0], true, nil
	}
	return "", false, errorf(name, "must be given at most once")
}

// parseCount reads a limit or offset. Only ASCII digits are accepted: a sign
// or spaces in a page parameter is a client bug worth reporting.
func parseCount(param, val string, min int, want string) (int, error) {
	n, err := strconv.ParseUint(val, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, errorf(param, "must be at most %d", MaxPage)
	case err != nil:
		return 0, errorf(param, "must be %s", want)
	case n < uint64(min):
		return 0, errorf(param, "must be at least %d", min)
	case n > MaxPage:
		return 0, errorf(param, "must be at most %d", MaxPage)
	}
	return int(n), nil
}

// parseOrder reads an order list. client is false for the schema's own
// DefaultOrder, which may use fields clients cannot sort on. It returns a
// detail message rather than an error so the caller picks the parameter.
func parseOrder(s *Schema, val string, client bool) ([]Order, string) {
	var orders []Order
	for item := range strings.SplitSeq(val, ",") {
		item = strings.TrimSpace(item)
		name, desc := strings.CutPrefix(item, "-")
		if name == "" {
			return nil, "empty field name in the list"
		}
		f := s.field(name)
		if f == nil {
			return nil, fmt.Sprintf("unknown field %q", clip(name))
		}
		if client && !f.Sort {
			return nil, fmt.Sprintf("field %q cannot be used for ordering", name)
		}
		for _, o := range orders {
			if o.Field == f {
				return nil, fmt.Sprintf("field %q is listed more than once", name)
			}
		}
		orders = append(orders, Order{Field: f, Desc: desc})
	}
	return orders, ""
}

func parseFields(s *Schema, val string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(val, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, errorf(ParamFields, "empty field name in the list")
		}
		known := false
		if s.Output != nil {
			known = slices.Contains(s.Output, name)
		} else {
			known = s.field(name) != nil
		}
		if !known {
			return nil, errorf(ParamFields, "unknown field %q", clip(name))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// parseFilter reads one `<field>` or `<field>__<op>` parameter; each of its
// repeated values becomes its own Filter, and Filters are ANDed.
func parseFilter(s *Schema, key string, vals []string) ([]Filter, error) {
	name, opName, hasOp := strings.Cut(key, "__")
	f := s.field(name)
	if f == nil {
		return nil, errorf(key, "unknown parameter")
	}
	if !f.Filter {
		return nil, errorf(key, "field %q cannot be filtered on", name)
	}
	op := Eq
	if hasOp {
		var ok bool
		if op, ok = opByName(opName); !ok {
			return nil, errorf(key, "unknown operator %q", clip(opName))
		}
	}
	if !op.allows(f.Type) {
		return nil, errorf(key, "operator %q does not apply to %s field %q", op, f.Type, name)
	}
	filters := make([]Filter, 0, len(vals))
	for _, raw := range vals {
		values, detail := convertOp(f.Type, op, raw)
		if detail != "" {
			return nil, errorf(key, "%s", detail)
		}
		filters = append(filters, Filter{Field: f, Op: op, Values: values})
	}
	return filters, nil
}

func convertOp(t Type, op Op, raw string) ([]any, string) {
	switch op {
	case IsNull:
		b, ok := parseBool(raw)
		if !ok {
			return nil, "must be true or false"
		}
		return []any{b}, ""
	case In:
		// Counted before splitting so that a huge list costs no allocation.
		if strings.Count(raw, ",") >= MaxListItems {
			return nil, fmt.Sprintf("must have at most %d items", MaxListItems)
		}
		items := strings.Split(raw, ",")
		values := make([]any, len(items))
		for i, item := range items {
			v, detail := convert(t, item)
			if detail != "" {
				return nil, fmt.Sprintf("item %d: %s", i+1, detail)
			}
			values[i] = v
		}
		return values, ""
	}
	v, detail := convert(t, raw)
	if detail != "" {
		return nil, detail
	}
	return []any{v}, ""
}

// convert turns request text into the Go value of type t, or returns a
// detail message. Messages never repeat the value: it may be long or
// binary, and the client already has it.
func convert(t Type, raw string) (any, string) {
	switch t {
	case String, ID:
		if d := checkText(raw); d != "" {
			return nil, d
		}
		return raw, ""
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, "is out of range for a 64-bit integer"
		}
		if err != nil {
			return nil, "must be an integer"
		}
		return n, ""
	case Bool:
		b, ok := parseBool(raw)
		if !ok {
			return nil, "must be true or false"
		}
		return b, ""
	case Time:
		return parseTime(raw)
	}
	return nil, "unsupported field type"
}

// checkText rejects text the databases would choke on (turning a 400 into a
// 500): PostgreSQL refuses NUL bytes and invalid UTF-8 in text.
func checkText(s string) string {
	switch {
	case len(s) > MaxValueBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxValueBytes)
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "1":
		return true, true
	case "false", "False", "0":
		return false, true
	}
	return false, false
}

func parseTime(s string) (any, string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		if strings.Contains(s, " ") {
			// An unencoded '+' in an offset arrives as a space.
			return nil, "must be an RFC 3339 time or a date (YYYY-MM-DD); encode '+' in an offset as %2B"
		}
		return nil, "must be an RFC 3339 time or a date (YYYY-MM-DD)"
	}
	t = t.UTC()
	// Outside these years TimeLayout is no longer fixed-width, and lexical
	// comparison with stored times would be wrong.
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, "must be between years 0000 and 9999 in UTC"
	}
	return t, ""
}
