package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/query"
)

// OpenAPI describes the API as an OpenAPI 3.1 document, built from the
// route table by reflection over each route's request and response types,
// so the description cannot drift from what the handlers decode and
// encode. Marshal the result with encoding/json; schema properties and
// paths are kept in declaration order rather than sorted.
func (s *Server) OpenAPI() map[string]any {
	g := newSpecGen()
	for _, r := range s.routes {
		if t, _ := bodyItemType(r.Body); t != nil {
			g.plan(t, modeIn)
		}
		if r.Reply != nil {
			g.plan(reflect.TypeOf(r.Reply), modeOut)
		}
	}
	g.assignNames()

	paths := newSpecObject()
	var tags []any
	seenTag := map[string]bool{}
	opIDs := map[string]bool{}
	for _, r := range s.routes {
		tag := r.Tag
		if tag == "" {
			tag = "default"
		}
		if !seenTag[tag] {
			seenTag[tag] = true
			tags = append(tags, map[string]any{"name": tag})
		}
		item, _ := paths.get(r.Path).(*specObject)
		if item == nil {
			item = newSpecObject()
			paths.set(r.Path, item)
		}
		item.set(strings.ToLower(r.Method), g.operation(r, tag, uniqueOpID(opIDs, operationID(r))))
	}

	version := s.cfg.Version
	if version == "" {
		version = "dev"
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Postern API",
			"version": version,
			"description": "Postern's REST API. Send a bearer token from POST /api/v2/authentication/token/ " +
				"in the Authorization header. Bodies are JSON; unknown fields are refused. " +
				"A trailing slash on any path is optional.",
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearerAuth": []any{}}},
		"tags":     tags,
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{
					"type":   "http",
					"scheme": "bearer",
					"description": "An API token from POST /api/v2/authentication/token/, sent as " +
						"\"Authorization: Bearer <token>\" (\"Token <token>\" is accepted too).",
				},
			},
			"schemas":   g.schemas,
			"responses": errorResponseSchemas(),
		},
	}
}

// schemaMode says whether a type is read from requests or written in
// responses: the same Go type is described differently in each (inputs
// require nothing and refuse unknown fields; outputs always carry every
// field and show pointers as nullable).
type schemaMode uint8

// The two schema modes.
const (
	modeOut schemaMode = iota // written in responses
	modeIn                    // read from request bodies
)

// typeMode is a Go type in one mode: the key of one named schema.
type typeMode struct {
	t reflect.Type
	m schemaMode
}

// specGen turns Go types into JSON Schemas under components/schemas.
type specGen struct {
	modes   map[reflect.Type]uint8 // bit 1<<mode for each mode a named struct is used in
	order   []typeMode             // first use, so that names are assigned deterministically
	names   map[typeMode]string
	taken   map[string]bool
	made    map[string]bool   // schemas generated or being generated
	pages   map[string]string // list envelope name by item schema name
	schemas *specObject
}

// newSpecGen starts a generator with the hand-written schemas in place, so
// that no Go type can take their names.
func newSpecGen() *specGen {
	g := &specGen{modes: map[reflect.Type]uint8{}, names: map[typeMode]string{}, taken: map[string]bool{},
		made: map[string]bool{}, pages: map[string]string{}, schemas: newSpecObject()}
	g.schemas.set("Error", errorBodySchema())
	g.schemas.set("Ref", refTypeSchema())
	g.schemas.set("Time", timeTypeSchema())
	for _, n := range g.schemas.keys {
		g.taken[n] = true
	}
	return g
}

// Types the generator recognises by identity rather than by kind.
var (
	specRefType     = reflect.TypeFor[Ref]()
	specAPITimeType = reflect.TypeFor[Time]()
	specTimeType    = reflect.TypeFor[time.Time]()
	specRawType     = reflect.TypeFor[json.RawMessage]()
	specHTMLType    = reflect.TypeFor[htmlPage]()

	specMarshalerType       = reflect.TypeFor[json.Marshaler]()
	specUnmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	specTextMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	specTextUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// htmlPage as a Route's Reply marks an HTML page rather than JSON.
type htmlPage string

// bodyItemType returns the type of one request object and whether the body
// is "one object or a list of them", which a slice Body means.
func bodyItemType(body any) (t reflect.Type, bulk bool) {
	if body == nil {
		return nil, false
	}
	t = reflect.TypeOf(body)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 && t != specRawType {
		return t.Elem(), true
	}
	return t, false
}

// handWritten reports types described by hand rather than by their kind.
func handWritten(t reflect.Type, m schemaMode) bool {
	switch t {
	case specRefType, specAPITimeType, specTimeType, specRawType, specHTMLType:
		return true
	}
	c, _ := customJSON(t, m)
	return c
}

// customJSON reports types with their own JSON or text encoding in mode m,
// whose shape reflection cannot see, and whether it is text (a string).
func customJSON(t reflect.Type, m schemaMode) (isCustom, isText bool) {
	if t.Kind() == reflect.Interface {
		return false, false
	}
	p := reflect.PointerTo(t)
	if m == modeIn {
		if p.Implements(specUnmarshalerType) {
			return true, false
		}
		return p.Implements(specTextUnmarshalerType), true
	}
	if t.Implements(specMarshalerType) || p.Implements(specMarshalerType) {
		return true, false
	}
	return t.Implements(specTextMarshalerType) || p.Implements(specTextMarshalerType), true
}

// plan records which named structs are used in which mode, so that names
// can be chosen before any $ref is written.
func (g *specGen) plan(t reflect.Type, m schemaMode) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if handWritten(t, m) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		g.plan(t.Elem(), m)
	case reflect.Struct:
		if t.Name() != "" {
			if g.modes[t]&(1<<m) != 0 {
				return
			}
			if g.modes[t] == 0 {
				g.order = append(g.order, typeMode{t, modeOut}, typeMode{t, modeIn})
			}
			g.modes[t] |= 1 << m
		}
		for _, f := range jsonFieldsOf(t) {
			g.plan(f.typ, m)
		}
	}
}

// assignNames names each (type, mode) after the Go type. A type used both
// in requests and responses gets a second schema, "<Name>Input"; two types
// of the same name from different packages are told apart by the package.
func (g *specGen) assignNames() {
	both := uint8(1<<modeOut | 1<<modeIn)
	for _, tm := range g.order {
		if g.modes[tm.t]&(1<<tm.m) == 0 {
			continue
		}
		base := goTypeName(tm.t)
		if tm.m == modeIn && g.modes[tm.t] == both {
			base += "Input"
		}
		name := base
		if g.taken[name] {
			name = upperFirst(goPkgName(tm.t)) + base
		}
		name = g.claim(name)
		g.names[tm] = name
	}
}

// claim reserves name, numbering it if it is already taken.
func (g *specGen) claim(name string) string {
	n := name
	for i := 2; g.taken[n]; i++ {
		n = name + strconv.Itoa(i)
	}
	g.taken[n] = true
	return n
}

// goTypeName is t's name without type arguments.
func goTypeName(t reflect.Type) string {
	n, _, _ := strings.Cut(t.Name(), "[") // generic instantiations
	return n
}

// goPkgName is the last element of t's package path.
func goPkgName(t reflect.Type) string {
	p := t.PkgPath()
	return p[strings.LastIndex(p, "/")+1:]
}

// upperFirst capitalises the first letter of s.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// schemaRef points at the component schema called name.
func schemaRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// named returns a $ref to the schema of struct t in mode m, generating the
// schema on first use. The name is reserved before the fields are walked so
// that recursive types end in a $ref rather than looping.
func (g *specGen) named(t reflect.Type, m schemaMode) map[string]any {
	name, ok := g.names[typeMode{t, m}]
	if !ok { // not seen by plan; cannot happen for route types
		g.plan(t, m)
		name = g.claim(goTypeName(t))
		g.names[typeMode{t, m}] = name
	}
	if !g.made[name] {
		g.made[name] = true
		g.schemas.set(name, g.objectSchema(t, m))
	}
	return schemaRef(name)
}

// schema describes t in mode m. field is the JSON name of the field being
// described ("" for none): response times are carried as strings, and
// their names are the only mark that they hold RFC 3339 times.
func (g *specGen) schema(t reflect.Type, m schemaMode, field string) map[string]any {
	if t.Kind() == reflect.Pointer {
		inner := t.Elem()
		for inner.Kind() == reflect.Pointer {
			inner = inner.Elem()
		}
		s := g.schema(inner, m, field)
		if m == modeOut {
			// A nil pointer is written as null; in requests a pointer only
			// marks the field optional.
			return nullableSchema(s)
		}
		return s
	}
	switch t {
	case specRefType:
		return schemaRef("Ref")
	case specAPITimeType:
		return schemaRef("Time")
	case specTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case specRawType:
		return map[string]any{"description": "Any JSON value."}
	case specHTMLType:
		return map[string]any{"type": "string"}
	}
	if c, text := customJSON(t, m); c {
		if text {
			return map[string]any{"type": "string"}
		}
		return map[string]any{"description": "Any JSON value."}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.String:
		if m == modeOut && isTimeField(field) {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json writes []byte as base64.
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), m, "")}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), m, ""), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), m, "")}
	case reflect.Struct:
		if t.Name() == "" {
			return g.objectSchema(t, m)
		}
		return g.named(t, m)
	}
	// Interfaces hold whatever the handler puts there; channels and
	// functions cannot be encoded at all.
	return map[string]any{}
}

// objectSchema describes a struct's JSON object.
func (g *specGen) objectSchema(t reflect.Type, m schemaMode) map[string]any {
	props := newSpecObject()
	var required []any
	for _, f := range jsonFieldsOf(t) {
		ps := g.schema(f.typ, m, f.name)
		if f.asString {
			ps = map[string]any{"type": "string", "description": "A " + strings.Join(schemaTypes(ps), " or ") + " written as a JSON string."}
		}
		props.set(f.name, ps)
		if m == modeOut && !f.omit {
			required = append(required, f.name)
		}
	}
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	if m == modeIn {
		// Request bodies are decoded with unknown fields refused.
		o["additionalProperties"] = false
	}
	return o
}

// schemaTypes lists the JSON types schema s names, for prose.
func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			out = append(out, v.(string))
		}
		return out
	}
	return []string{"value"}
}

// nullableSchema widens s to admit null.
func nullableSchema(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		c := cloneSchema(s)
		c["type"] = []any{t, "null"}
		return c
	case []any:
		for _, v := range t {
			if v == "null" {
				return s
			}
		}
		c := cloneSchema(s)
		c["type"] = append(append([]any{}, t...), "null")
		return c
	}
	if len(s) == 0 || (len(s) == 1 && s["description"] != nil) {
		return s // already admits anything
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// cloneSchema copies the top level of m, so that a schema shared between
// fields is never changed through one of them.
func cloneSchema(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// isTimeField reports response fields that hold RFC 3339 times as strings.
func isTimeField(name string) bool {
	switch name {
	case "last_used", "expires_at", "last_login", "start_time", "end_time", "datetime":
		return true
	}
	return strings.HasPrefix(name, "date_")
}

// jsonFieldSpec is one key of a struct's JSON object.
type jsonFieldSpec struct {
	name     string
	typ      reflect.Type
	omit     bool // omitempty or omitzero: the key may be missing from output
	asString bool // ",string": a number or bool quoted
}

// jsonFieldsOf lists the keys encoding/json gives struct t: tags respected,
// "-" dropped, unexported fields skipped, untagged embedded structs
// flattened, and a name claimed at several depths resolved the way
// encoding/json does (shallowest wins; a tie goes to the one tagged field,
// or drops the name).
func jsonFieldsOf(t reflect.Type) []jsonFieldSpec {
	type cand struct {
		jsonFieldSpec
		depth  int
		tagged bool
	}
	var all []cand
	var walk func(t reflect.Type, depth int, visiting map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, visiting map[reflect.Type]bool) {
		visiting[t] = true
		defer delete(visiting, t)
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !f.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct && !handWritten(et, modeOut) && !handWritten(et, modeIn) {
					if !visiting[et] {
						walk(et, depth+1, visiting)
					}
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = f.Name
			}
			jf := jsonFieldSpec{name: name, typ: ft}
			for o := range strings.SplitSeq(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					jf.omit = true
				case "string":
					k := ft
					if k.Kind() == reflect.Pointer {
						k = k.Elem()
					}
					switch k.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64:
						jf.asString = true
					}
				}
			}
			all = append(all, cand{jf, depth, tagged})
		}
	}
	walk(t, 0, map[reflect.Type]bool{})

	var out []jsonFieldSpec
	done := map[string]bool{}
	for _, c := range all {
		if done[c.name] {
			continue
		}
		done[c.name] = true
		var best []cand
		for _, d := range all {
			if d.name != c.name {
				continue
			}
			if len(best) == 0 || d.depth < best[0].depth {
				best = []cand{d}
			} else if d.depth == best[0].depth {
				best = append(best, d)
			}
		}
		if len(best) > 1 {
			var tagged []cand
			for _, b := range best {
				if b.tagged {
					tagged = append(tagged, b)
				}
			}
			if len(tagged) != 1 {
				continue
			}
			best = tagged
		}
		out = append(out, best[0].jsonFieldSpec)
	}
	return out
}

// operation describes one route.
func (g *specGen) operation(r *Route, tag, opID string) *specObject {
	op := newSpecObject()
	op.set("operationId", opID)
	op.set("tags", []any{tag})
	if r.Summary != "" {
		op.set("summary", r.Summary)
	}
	var desc []string
	if r.Public {
		desc = append(desc, "Public: no authentication.")
		op.set("security", []any{})
	} else {
		names := routeRoleNames(r.Roles)
		desc = append(desc, "Roles: "+strings.Join(names, ", ")+".")
		roles := make([]any, len(names))
		for i, n := range names {
			roles[i] = n
		}
		op.set("x-roles", roles)
		op.set("security", []any{map[string]any{"bearerAuth": []any{}}})
	}
	body, bulk := bodyItemType(r.Body)
	if bulk {
		desc = append(desc, "The body is one object or a list of them; a list is applied all or nothing, and errors name the row.")
	}
	if r.List != nil {
		desc = append(desc, "Answers a page {count, next, previous, results}; filters combine with AND.")
	}
	op.set("description", strings.Join(desc, " "))

	var params []any
	for _, name := range pathParamNames(r.Path) {
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	if r.List != nil {
		params = append(params, listParamSpecs(r.List)...)
	}
	if len(params) > 0 {
		op.set("parameters", params)
	}

	if body != nil {
		item := g.schema(body, modeIn, "")
		s := item
		if bulk {
			s = map[string]any{"oneOf": []any{item, map[string]any{"type": "array", "items": item}}}
		}
		op.set("requestBody", map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": s}},
		})
	}

	responses := newSpecObject()
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if r.Reply != nil && status != http.StatusNoContent {
		t := reflect.TypeOf(r.Reply)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		ctype := "application/json"
		s := g.schema(t, modeOut, "")
		switch {
		case t == specHTMLType:
			ctype = "text/html"
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			ctype, s = "application/octet-stream", map[string]any{"type": "string", "format": "binary"}
		case r.List != nil:
			s = g.page(s)
		}
		ok["content"] = map[string]any{ctype: map[string]any{"schema": s}}
	}
	responses.set(strconv.Itoa(status), ok)
	for _, e := range errorResponseSpecs {
		responses.set(strconv.Itoa(e.status), map[string]any{"$ref": "#/components/responses/" + e.name})
	}
	op.set("responses", responses)
	return op
}

// page returns the list envelope around item (a schema of one result),
// named "<Item>Page" when the item is a named type.
func (g *specGen) page(item map[string]any) map[string]any {
	link := map[string]any{"type": []any{"string", "null"}}
	env := map[string]any{
		"type":     "object",
		"required": []any{"count", "next", "previous", "results"},
		"properties": newSpecObject().
			set("count", map[string]any{"type": "integer", "minimum": 0, "description": "Rows matching the query, on all pages."}).
			set("next", withDescription(link, "Path of the next page, or null on the last page or when no limit applies.")).
			set("previous", withDescription(link, "Path of the previous page, or null on the first.")).
			set("results", map[string]any{"type": "array", "items": item}),
	}
	r, ok := item["$ref"].(string)
	if !ok {
		return env
	}
	itemName := strings.TrimPrefix(r, "#/components/schemas/")
	name, ok := g.pages[itemName]
	if !ok {
		name = g.claim(itemName + "Page")
		g.pages[itemName] = name
		g.schemas.set(name, env)
	}
	return schemaRef(name)
}

// withDescription is a copy of s described by d.
func withDescription(s map[string]any, d string) map[string]any {
	c := cloneSchema(s)
	c["description"] = d
	return c
}

// routeRoleNames lists the roles a route admits, in a fixed order.
func routeRoleNames(r roles) []string {
	var out []string
	for _, n := range []string{identity.RoleAdmin, identity.RoleAuditor, identity.RoleUser} {
		if r&roleBit(n) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []string{"none"}
	}
	return out
}

// pathParamNames returns the {names} of a path pattern ("{rest...}" gives
// "rest").
func pathParamNames(path string) []string {
	var out []string
	for seg := range strings.SplitSeq(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(seg[1:len(seg)-1], "..."))
		}
	}
	return out
}

// operationID derives a stable id from the method and path:
// GET /api/v2/users/users/{id}/ is getUsersUsersById, and a list route
// starts with "list" instead of "get".
func operationID(r *Route) string {
	verb := strings.ToLower(r.Method)
	if r.List != nil && verb == "get" {
		verb = "list"
	}
	var b strings.Builder
	b.WriteString(verb)
	p := strings.TrimPrefix(strings.TrimPrefix(r.Path, "/api/v2/"), "/api/")
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, "{") {
			b.WriteString("By")
			seg = strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
		}
		for w := range strings.FieldsFuncSeq(seg, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			b.WriteString(upperFirst(strings.ToLower(w)))
		}
	}
	return b.String()
}

// uniqueOpID numbers an id already used, so that two routes differing only
// in punctuation still get distinct ids.
func uniqueOpID(seen map[string]bool, id string) string {
	c := id
	for i := 2; seen[c]; i++ {
		c = id + strconv.Itoa(i)
	}
	seen[c] = true
	return c
}

// filterOps are the operators of query, in the order they are documented,
// with the field types each applies to. This mirrors query.Op's rules;
// openapi_test.go checks every documented parameter against query.Parse.
var filterOps = []struct {
	op    query.Op
	types []query.Type
	doc   string
}{
	{query.Eq, opAllTypes, "equals"},
	{query.Ne, opAllTypes, "differs from"},
	{query.Gt, opOrdered, "is greater than"},
	{query.Gte, opOrdered, "is at least"},
	{query.Lt, opOrdered, "is less than"},
	{query.Lte, opOrdered, "is at most"},
	{query.In, opAllTypes, "is one of (comma-separated)"},
	{query.IContains, opText, "contains, ignoring case"},
	{query.Contains, opText, "contains, case-sensitive"},
	{query.StartsWith, opText, "starts with, case-sensitive"},
	{query.IsNull, opAllTypes, "is null (true) or not (false)"},
}

// Field types grouped by the operators that apply to them.
var (
	opAllTypes = []query.Type{query.String, query.Int, query.Bool, query.Time, query.ID}
	opOrdered  = []query.Type{query.String, query.Int, query.Time}
	opText     = []query.Type{query.String}
)

// filterValueSchema is the schema of one filter value of type t, as
// query converts it.
func filterValueSchema(t query.Type) map[string]any {
	switch t {
	case query.Int:
		return map[string]any{"type": "integer", "format": "int64"}
	case query.Bool:
		return map[string]any{"type": "boolean"}
	case query.Time:
		return map[string]any{"type": "string", "description": "RFC 3339 time, or a date meaning midnight UTC."}
	case query.ID:
		return map[string]any{"type": "string"}
	}
	return map[string]any{"type": "string", "maxLength": query.MaxValueBytes}
}

// queryParamSpec is an optional query parameter.
func queryParamSpec(name, desc string, schema map[string]any) map[string]any {
	return map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

// listParamSpecs are the query parameters query.Parse accepts for sc.
func listParamSpecs(sc *query.Schema) []any {
	var search, sorts, names []string
	for _, f := range sc.Fields {
		names = append(names, f.Name)
		if f.Search {
			search = append(search, f.Name)
		}
		if f.Sort {
			sorts = append(sorts, f.Name)
		}
	}
	limit := map[string]any{"type": "integer", "minimum": 1, "maximum": query.MaxPage}
	limitDesc := "Page size; without it every row is returned."
	if sc.MaxLimit > 0 {
		limit["maximum"] = sc.MaxLimit
		limitDesc = "Page size, at most " + strconv.Itoa(sc.MaxLimit) + "; without it a page of " +
			strconv.Itoa(sc.MaxLimit) + " rows comes with a next link."
	}
	ps := []any{
		queryParamSpec(query.ParamLimit, limitDesc, limit),
		queryParamSpec(query.ParamOffset, "Rows to skip before the page.", map[string]any{"type": "integer", "minimum": 0, "maximum": query.MaxPage}),
	}
	if len(search) > 0 {
		ps = append(ps, queryParamSpec(query.ParamSearch, "Case-insensitive substring of any of: "+strings.Join(search, ", ")+".",
			map[string]any{"type": "string", "maxLength": query.MaxValueBytes}))
	}
	if len(sorts) > 0 {
		d := "Comma-separated fields to sort by, each optionally prefixed by - for descending: " + strings.Join(sorts, ", ") + "."
		if sc.DefaultOrder != "" {
			d += " Default: " + sc.DefaultOrder + "."
		}
		ps = append(ps, queryParamSpec(query.ParamOrder, d, map[string]any{"type": "string"}))
	}
	out := sc.Output
	if out == nil {
		out = names
	}
	ps = append(ps, queryParamSpec(query.ParamFields, "Comma-separated response fields to keep: "+strings.Join(out, ", ")+".",
		map[string]any{"type": "string"}))

	for _, f := range sc.Fields {
		if !f.Filter {
			continue
		}
		for _, fo := range filterOps {
			if !slices.Contains(fo.types, f.Type) {
				continue
			}
			name := f.Name
			if fo.op != query.Eq {
				name += "__" + fo.op.String()
			}
			desc := f.Name + " " + fo.doc + "."
			var p map[string]any
			switch fo.op {
			case query.In:
				p = queryParamSpec(name, desc, map[string]any{"type": "array", "items": filterValueSchema(f.Type), "maxItems": query.MaxListItems})
				p["style"], p["explode"] = "form", false
			case query.IsNull:
				p = queryParamSpec(name, desc, map[string]any{"type": "boolean"})
			case query.IContains, query.Contains, query.StartsWith:
				p = queryParamSpec(name, desc, map[string]any{"type": "string", "maxLength": query.MaxValueBytes})
			default:
				p = queryParamSpec(name, desc, filterValueSchema(f.Type))
			}
			// Marks the many filter parameters so that a viewer can fold
			// them away from the few common ones.
			p["x-filter"] = true
			ps = append(ps, p)
		}
	}
	for _, e := range sc.Extra {
		ps = append(ps, queryParamSpec(e, "Read by this endpoint itself; see its summary.", map[string]any{"type": "string"}))
	}
	return ps
}

// errorResponseSpecs are the error answers any route may give, each described
// once under components/responses.
var errorResponseSpecs = []struct {
	status int
	name   string
	doc    string
}{
	{http.StatusBadRequest, "BadRequest", "The request is invalid: a malformed body or query, or a field the rules refuse."},
	{http.StatusUnauthorized, "Unauthorized", "No valid token, or wrong credentials."},
	{http.StatusForbidden, "Forbidden", "Your role may not do this, or the account is locked."},
	{http.StatusNotFound, "NotFound", "No such record or endpoint."},
	{http.StatusConflict, "Conflict", "The change clashes with existing data, such as a duplicate name."},
	{http.StatusRequestEntityTooLarge, "PayloadTooLarge", "The body is over the size limit."},
	{http.StatusTooManyRequests, "TooManyRequests", "Rate limited; retry after the Retry-After seconds."},
	{http.StatusInternalServerError, "InternalError", "The server failed; its log has the details."},
}

// errorResponseSchemas are the shared error responses under
// components/responses, named as in errorResponseSpecs.
func errorResponseSchemas() map[string]any {
	out := map[string]any{}
	for _, e := range errorResponseSpecs {
		r := map[string]any{
			"description": e.doc,
			"content":     map[string]any{"application/json": map[string]any{"schema": schemaRef("Error")}},
		}
		switch e.status {
		case http.StatusUnauthorized:
			r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"schema": map[string]any{"type": "string"}}}
		case http.StatusTooManyRequests:
			r["headers"] = map[string]any{"Retry-After": map[string]any{
				"description": "Seconds to wait.", "schema": map[string]any{"type": "integer", "minimum": 1}}}
		}
		out[e.name] = r
	}
	return out
}

// errorBodySchema is the body of every error (errorBody in api.go).
func errorBodySchema() map[string]any {
	row := map[string]any{"type": "integer", "minimum": 0, "description": "Index of the offending item when the body was a list."}
	str := map[string]any{"type": "string"}
	return map[string]any{
		"type":     "object",
		"required": []any{"code", "detail"},
		"properties": newSpecObject().
			set("code", withDescription(str, "Machine-readable reason, e.g. invalid, not_found, throttled.")).
			set("detail", withDescription(str, "Human-readable explanation.")).
			set("field", withDescription(str, "The body field or query parameter at fault, if any.")).
			set("row", row).
			set("errors", map[string]any{
				"type":        "array",
				"description": "Every problem found, for list bodies.",
				"items": map[string]any{
					"type":     "object",
					"required": []any{"code", "detail"},
					"properties": newSpecObject().
						set("row", row).
						set("field", str).
						set("code", str).
						set("detail", str),
				},
			}),
	}
}

// refTypeSchema describes Ref: clients may send an id either way, or the
// object they got from a response.
func refTypeSchema() map[string]any {
	id := map[string]any{"type": "string", "minLength": 1, "maxLength": 64}
	return map[string]any{
		"description": "A reference to another record: its id as a string or an integer, or an object with an \"id\" (other keys are ignored).",
		"oneOf": []any{
			id,
			map[string]any{"type": "integer"},
			map[string]any{
				"type":       "object",
				"required":   []any{"id"},
				"properties": map[string]any{"id": map[string]any{"oneOf": []any{id, map[string]any{"type": "integer"}}}},
			},
		},
		"examples": []any{"3f2a7c1e-8b4d-4e6f-9a01-2b3c4d5e6f70"},
	}
}

// timeTypeSchema describes Time as accepted in request bodies.
func timeTypeSchema() map[string]any {
	return map[string]any{
		"description": "An RFC 3339 time, or a date meaning midnight UTC; null or \"\" clears it.",
		"anyOf": []any{
			map[string]any{"type": "string", "format": "date-time"},
			map[string]any{"type": "string", "format": "date"},
			map[string]any{"type": "null"},
		},
		"examples": []any{"2030-12-31T23:59:59Z", "2030-12-31"},
	}
}

// specObject is a JSON object that keeps its keys in insertion order, so
// schema properties read as the Go struct declares them (id and name
// first) and paths in the order the routes are registered, rather than
// alphabetically as encoding/json writes maps.
type specObject struct {
	keys []string
	vals map[string]any
}

// newSpecObject returns an empty specObject.
func newSpecObject() *specObject { return &specObject{vals: map[string]any{}} }

// set adds or replaces key k, keeping its first position; it returns o so
// that properties can be listed in one expression.
func (o *specObject) set(k string, v any) *specObject {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

// get returns the value of k, nil when absent.
func (o *specObject) get(k string) any { return o.vals[k] }

// MarshalJSON implements json.Marshaler.
func (o *specObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
