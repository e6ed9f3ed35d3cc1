package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/store"
)

// specKinds exercises every kind of field the generator handles.
type specKinds struct {
	Name     string             `json:"name"`
	Opt      *string            `json:"opt,omitempty"`
	Skipped  string             `json:"-"`
	Quoted   int64              `json:"quoted,string"`
	Ratio    float64            `json:"ratio"`
	Small    uint8              `json:"small"`
	At       time.Time          `json:"at"`
	When     *Time              `json:"when"`
	Target   *Ref               `json:"target"`
	Raw      json.RawMessage    `json:"raw"`
	Anything any                `json:"anything"`
	Counts   map[string]int     `json:"counts"`
	Refs     []NameRef          `json:"refs"`
	Blob     []byte             `json:"blob"`
	Next     *specKinds         `json:"next"`
	LastUsed *string            `json:"last_used"`
	Labels   *map[string]string `json:"labels"`
	specEmbedded
}

type specEmbedded struct {
	Promoted string `json:"promoted"`
}

// specServer is the real route table without its dependencies: handlers
// reach the database only when called, and these tests only describe
// routes or call the public, dependency-free documentation ones.
func specServer(t *testing.T) *Server {
	t.Helper()
	s := New(nil, nil, nil, nil, Config{Version: "test"})
	if !slices.ContainsFunc(s.routes, func(r *Route) bool { return r.Path == "/api/v2/openapi.json" }) {
		s.registerDocs()
	}
	s.add(&Route{Method: "POST", Path: "/api/v2/spec-test/kinds/{id}/", Tag: "spec-test", Roles: roleAdmin | roleAuditor,
		Summary: "kinds", Body: specKinds{}, Reply: specKinds{}, Handle: func(*call) (any, error) { return nil, nil }})
	return s
}

// specDoc is the document as a client sees it: marshalled and parsed back.
func specDoc(t *testing.T, s *Server) map[string]any {
	t.Helper()
	b, err := json.Marshal(s.OpenAPI())
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !json.Valid(b) {
		t.Fatal("the document is not valid JSON")
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func specObj(t *testing.T, v any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", strings.Join(path, "."), p)
		}
		v = m[p]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object (%T)", strings.Join(path, "."), v)
	}
	return m
}

// pointer resolves a local JSON pointer such as #/components/schemas/Ref.
func specPointer(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var v any = doc
	for _, p := range strings.Split(ref[2:], "/") {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

func specDeref(t *testing.T, doc, s map[string]any) map[string]any {
	t.Helper()
	for i := 0; i < 10; i++ {
		r, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		v, ok := specPointer(doc, r)
		if !ok {
			t.Fatalf("unresolved %s", r)
		}
		s = v.(map[string]any)
	}
	t.Fatal("$ref chain too long")
	return nil
}

// walk calls fn for every object in v.
func specWalk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			specWalk(c, fn)
		}
	case []any:
		for _, c := range x {
			specWalk(c, fn)
		}
	}
}

func TestOpenAPIDocument(t *testing.T) {
	s := specServer(t)
	doc := specDoc(t, s)

	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	if v := specObj(t, doc, "info")["version"]; v != "test" {
		t.Errorf("info.version = %v", v)
	}
	if specObj(t, doc, "components", "securitySchemes", "bearerAuth")["scheme"] != "bearer" {
		t.Error("no bearer security scheme")
	}

	paths := specObj(t, doc, "paths")
	ids := map[string]bool{}
	for _, r := range s.Routes() {
		op, ok := specObj(t, paths, r.Path)[strings.ToLower(r.Method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s is not in the document", r.Method, r.Path)
			continue
		}
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] {
			t.Errorf("%s %s: operationId %q empty or repeated", r.Method, r.Path, id)
		}
		ids[id] = true
		sec, _ := op["security"].([]any)
		if r.Public != (len(sec) == 0) {
			t.Errorf("%s %s: public=%v but security=%v", r.Method, r.Path, r.Public, sec)
		}
		desc, _ := op["description"].(string)
		if !r.Public && !strings.Contains(desc, "Roles: ") {
			t.Errorf("%s %s: description %q does not name the roles", r.Method, r.Path, desc)
		}
		resp := specObj(t, op, "responses")
		for _, code := range []string{"400", "401", "403", "404", "409", "413", "429"} {
			e := specObj(t, resp, code)
			if e["$ref"] == nil {
				t.Errorf("%s %s: %s does not reference a shared error response", r.Method, r.Path, code)
			}
			if b := specObj(t, specDeref(t, doc, e), "content", "application/json", "schema"); b["$ref"] != "#/components/schemas/Error" {
				t.Errorf("%s %s: %s body is %v, want the Error schema", r.Method, r.Path, code, b)
			}
		}
		if r.Status == http.StatusNoContent {
			if _, has := specObj(t, resp, "204")["content"]; has {
				t.Errorf("%s %s: 204 with content", r.Method, r.Path)
			}
		}
	}

	// Every $ref resolves.
	specWalk(doc, func(m map[string]any) {
		if r, ok := m["$ref"].(string); ok {
			if _, ok := specPointer(doc, r); !ok {
				t.Errorf("unresolved $ref %s", r)
			}
		}
	})

	// The list route's query parameters come from the store schema.
	list := specObj(t, paths, "/api/v2/assets/assets/", "get")
	params := map[string]map[string]any{}
	for _, p := range list["parameters"].([]any) {
		pm := p.(map[string]any)
		params[pm["name"].(string)] = pm
	}
	for _, want := range []string{"limit", "offset", "search", "order", "fields", "ip", "ip__icontains", "ip__in", "date_created__gte", "is_active", "node"} {
		if params[want] == nil {
			t.Errorf("asset list lacks parameter %s", want)
		}
	}
	for _, never := range []string{"is_active__gt", "id__icontains", "platform__contains"} {
		if params[never] != nil {
			t.Errorf("asset list documents %s, which query refuses", never)
		}
	}
	if typ := specObj(t, params["platform__gte"], "schema")["type"]; typ != "integer" {
		t.Errorf("platform__gte type = %v", typ)
	}
	if typ := specObj(t, params["ip__in"], "schema")["type"]; typ != "array" || params["ip__in"]["explode"] != false {
		t.Errorf("ip__in = %v, want a comma-separated array", params["ip__in"])
	}
	env := specDeref(t, doc, specObj(t, list, "responses", "200", "content", "application/json", "schema"))
	for _, k := range []string{"count", "next", "previous", "results"} {
		if specObj(t, env, "properties")[k] == nil {
			t.Errorf("list envelope lacks %s", k)
		}
	}
	if r := specObj(t, env, "properties", "results", "items")["$ref"]; r != "#/components/schemas/AssetOut" {
		t.Errorf("results items = %v", r)
	}

	// The bulk body is one object or a list of them.
	create := specObj(t, paths, "/api/v2/assets/assets/", "post")
	body := specObj(t, create, "requestBody", "content", "application/json", "schema")
	alts, _ := body["oneOf"].([]any)
	if len(alts) != 2 || alts[0].(map[string]any)["$ref"] != "#/components/schemas/AssetIn" ||
		alts[1].(map[string]any)["type"] != "array" || specObj(t, alts[1], "items")["$ref"] != "#/components/schemas/AssetIn" {
		t.Errorf("bulk body = %v", body)
	}

	// A Ref accepts a string, an integer or an object with an id.
	schemas := specObj(t, doc, "components", "schemas")
	platform := specObj(t, schemas, "AssetIn", "properties", "platform")
	refSchema := specDeref(t, doc, platform)
	var kinds []string
	for _, a := range refSchema["oneOf"].([]any) {
		kinds = append(kinds, a.(map[string]any)["type"].(string))
	}
	if !slices.Equal(kinds, []string{"string", "integer", "object"}) {
		t.Errorf("Ref accepts %v", kinds)
	}

	// Inputs require nothing and refuse unknown fields; outputs carry every
	// field, with stored times as nullable date-time strings.
	in := specObj(t, schemas, "AssetIn")
	if in["required"] != nil || in["additionalProperties"] != false {
		t.Errorf("AssetIn: required=%v additionalProperties=%v", in["required"], in["additionalProperties"])
	}
	out := specObj(t, schemas, "AssetOut")
	if req, _ := out["required"].([]any); len(req) != len(specObj(t, out, "properties")) {
		t.Errorf("AssetOut requires %v of %d fields", req, len(specObj(t, out, "properties")))
	}
	dc := specObj(t, out, "properties", "date_created")
	if dc["format"] != "date-time" || !slices.Contains(dc["type"].([]any), any("null")) {
		t.Errorf("AssetOut.date_created = %v", dc)
	}
	if p := specObj(t, schemas, "AssetOut", "properties", "labels"); specObj(t, p, "additionalProperties")["type"] != "string" {
		t.Errorf("AssetOut.labels = %v", p)
	}

	// Secrets are written, never returned: collect every schema reachable
	// from a response and look for their names.
	seen := map[string]bool{}
	var visit func(v any, where string)
	visit = func(v any, where string) {
		specWalk(v, func(m map[string]any) {
			if r, ok := m["$ref"].(string); ok && !seen[r] {
				seen[r] = true
				target, _ := specPointer(doc, r)
				visit(target, r)
			}
			if props, ok := m["properties"].(map[string]any); ok {
				for _, bad := range []string{"password", "private_key", "password_hash", "otp_secret"} {
					if _, ok := props[bad]; ok {
						t.Errorf("response schema %s has a %q property", where, bad)
					}
				}
			}
		})
	}
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			visit(op.(map[string]any)["responses"], method+" "+path)
		}
	}
	if !seen["#/components/schemas/UserOut"] || !seen["#/components/schemas/SystemUserOut"] {
		t.Error("the secret check did not reach UserOut and SystemUserOut")
	}

	// Built twice, the document is the same.
	a, _ := json.Marshal(s.OpenAPI())
	b, _ := json.Marshal(s.OpenAPI())
	if string(a) != string(b) {
		t.Error("the document is not deterministic")
	}
}

func TestOpenAPIKinds(t *testing.T) {
	doc := specDoc(t, specServer(t))
	schemas := specObj(t, doc, "components", "schemas")
	op := specObj(t, doc, "paths", "/api/v2/spec-test/kinds/{id}/", "post")

	if p := op["parameters"].([]any)[0].(map[string]any); p["name"] != "id" || p["in"] != "path" || p["required"] != true {
		t.Errorf("path parameter = %v", p)
	}
	if d := op["description"].(string); !strings.Contains(d, "Roles: admin, auditor.") {
		t.Errorf("description = %q", d)
	}
	if r := specObj(t, op, "requestBody", "content", "application/json", "schema")["$ref"]; r != "#/components/schemas/specKindsInput" {
		t.Errorf("body = %v (a type used both ways gets an Input schema)", r)
	}
	if r := specObj(t, op, "responses", "200", "content", "application/json", "schema")["$ref"]; r != "#/components/schemas/specKinds" {
		t.Errorf("reply = %v", r)
	}

	out := specObj(t, schemas, "specKinds", "properties")
	in := specObj(t, schemas, "specKindsInput", "properties")
	var names []string
	for k := range out {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"anything", "at", "blob", "counts", "labels", "last_used", "name", "next", "opt", "promoted", "quoted", "ratio", "raw", "refs", "small", "target", "when"}
	if !slices.Equal(names, want) {
		t.Errorf("properties = %v, want %v", names, want)
	}
	req := specObj(t, schemas, "specKinds")["required"].([]any)
	if slices.Contains(req, any("opt")) || !slices.Contains(req, any("name")) {
		t.Errorf("required = %v (omitempty is optional)", req)
	}
	check := func(name string, got map[string]any, key string, want any) {
		t.Helper()
		b1, _ := json.Marshal(got[key])
		b2, _ := json.Marshal(want)
		if string(b1) != string(b2) {
			t.Errorf("%s.%s = %s, want %s", name, key, b1, b2)
		}
	}
	check("out.name", specObj(t, out, "name"), "type", "string")
	check("out.opt", specObj(t, out, "opt"), "type", []string{"string", "null"})
	check("in.opt", specObj(t, in, "opt"), "type", "string")
	check("out.quoted", specObj(t, out, "quoted"), "type", "string")
	check("out.ratio", specObj(t, out, "ratio"), "format", "double")
	check("out.small", specObj(t, out, "small"), "minimum", 0)
	check("out.at", specObj(t, out, "at"), "format", "date-time")
	check("in.when", specObj(t, in, "when"), "$ref", "#/components/schemas/Time")
	check("in.target", specObj(t, in, "target"), "$ref", "#/components/schemas/Ref")
	check("out.counts", specObj(t, out, "counts", "additionalProperties"), "type", "integer")
	check("out.refs", specObj(t, out, "refs", "items"), "$ref", "#/components/schemas/NameRef")
	check("out.blob", specObj(t, out, "blob"), "contentEncoding", "base64")
	check("out.last_used", specObj(t, out, "last_used"), "format", "date-time")
	check("out.last_used", specObj(t, out, "last_used"), "type", []string{"string", "null"})
	check("in.last_used", specObj(t, in, "last_used"), "format", nil)
	check("in.labels", specObj(t, in, "labels"), "type", "object")
	if _, typed := specObj(t, out, "raw")["type"]; typed {
		t.Error("json.RawMessage should be free-form")
	}
	if _, typed := specObj(t, out, "anything")["type"]; typed {
		t.Error("any should be free-form")
	}
	if anyOf, _ := specObj(t, out, "next")["anyOf"].([]any); len(anyOf) != 2 || anyOf[0].(map[string]any)["$ref"] != "#/components/schemas/specKinds" {
		t.Errorf("recursive nullable pointer = %v", specObj(t, out, "next"))
	}
	if anyOf := specObj(t, in, "next"); anyOf["$ref"] != "#/components/schemas/specKindsInput" {
		t.Errorf("recursive input pointer = %v", anyOf)
	}
}

// TestOpenAPIFilterParams checks the documented filters against the query
// parser itself: every documented parameter is accepted, and every
// operator left out is one the parser refuses, so the operator table in
// openapi.go cannot drift from query's rules.
func TestOpenAPIFilterParams(t *testing.T) {
	s := specServer(t)
	doc := specDoc(t, s)
	sample := map[query.Type]string{query.String: "x", query.Int: "1", query.Bool: "true", query.Time: "2024-01-02", query.ID: "x"}
	ops := []string{"exact", "ne", "gt", "gte", "lt", "lte", "in", "icontains", "contains", "startswith", "isnull"}
	lists := 0
	for _, r := range s.Routes() {
		if r.List == nil {
			continue
		}
		lists++
		op := specObj(t, doc, "paths", r.Path, strings.ToLower(r.Method))
		documented := map[string]bool{}
		for _, p := range op["parameters"].([]any) {
			documented[p.(map[string]any)["name"].(string)] = true
		}
		for _, f := range r.List.Fields {
			for _, o := range ops {
				name := f.Name + "__" + o
				if o == "exact" {
					name = f.Name
				}
				val := sample[f.Type]
				if o == "isnull" {
					val = "true"
				}
				_, err := query.Parse(r.List, url.Values{name: {val}})
				if documented[name] && err != nil {
					t.Errorf("%s %s: documented %s is refused: %v", r.Method, r.Path, name, err)
				}
				if !documented[name] && err == nil {
					t.Errorf("%s %s: %s is accepted but not documented", r.Method, r.Path, name)
				}
			}
		}
	}
	if lists == 0 {
		t.Fatal("no list routes")
	}
	if _, err := query.Parse(store.AssetSchema, url.Values{"ip__icontains": {"10."}}); err != nil {
		t.Fatal(err)
	}
}

func TestDocsPage(t *testing.T) {
	s := specServer(t)

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/docs/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/docs/ = %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	page := rec.Body.String()
	if !strings.Contains(page, "/api/v2/openapi.json") {
		t.Error("the page does not load the spec")
	}
	// Offline: nothing is fetched from, or linked to, another host.
	if u := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(page); u != "" {
		t.Errorf("the page refers to another host: %s", u)
	}
	if strings.Contains(strings.ToLower(page), "http://") || strings.Contains(strings.ToLower(page), "https://") {
		t.Error("the page contains an absolute URL")
	}
	for _, tag := range []string{"script", "style"} {
		if strings.Count(page, "<"+tag) != strings.Count(page, "<"+tag+">") {
			t.Errorf("a <%s> element has attributes (src, or one the CSP hash would miss)", tag)
		}
	}
	if strings.Contains(page, "<link") || strings.Contains(page, "innerHTML") || strings.Contains(page, "insertAdjacentHTML") {
		t.Error("the page loads a resource or builds markup from strings")
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") ||
		strings.Count(csp, "'sha256-") != 2 || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v2/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v2/openapi.json = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want, _ := json.Marshal(s.OpenAPI())
	if rec.Body.String() != string(want) {
		t.Error("the served document differs from OpenAPI()")
	}
	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest("GET", "/api/v2/openapi.json/", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if etag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q = %d, want 304", etag, rec.Code)
	}
}
