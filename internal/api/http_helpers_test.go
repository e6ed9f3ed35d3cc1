package api_test

// The harness of the HTTP tests: the real store on a temporary SQLite
// file, the real vault, identity, inventory and access services wired as
// cmd/postern/config.go's open() wires them, and api.New behind an
// httptest server. Requests go over real HTTP.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/vault"
)

const (
	httpAdminPassword = "admin-Secret-Passw0rd"
	httpUserPassword  = "user-Secret-Passw0rd"
	httpRootNodeID    = inventory.RootNodeID
)

// httpEnv is one running API server over a fresh database.
type httpEnv struct {
	t     testing.TB
	srv   *httptest.Server
	api   *api.Server
	db    *store.DB
	id    *identity.Service
	inv   *inventory.Service
	acc   *access.Service
	admin string // admin bearer token
}

// newHTTPEnv starts a server with cfg (zero fields take the API defaults)
// and logs the bootstrapped administrator in.
func newHTTPEnv(t testing.TB, cfg api.Config) *httpEnv {
	t.Helper()
	e := openHTTPEnv(t, identity.Config{}, cfg)
	e.admin = e.login("admin", httpAdminPassword)
	return e
}

// openHTTPEnv wires the services as open() in cmd/postern/config.go does,
// without logging anyone in.
func openHTTPEnv(t testing.TB, idCfg identity.Config, cfg api.Config) *httpEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	key := make([]byte, vault.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// checkKey in config.go: seal a probe on first start.
	probe, err := v.Seal("postern", "vault-check")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetMetaOnce(ctx, "vault_check", probe); err != nil {
		t.Fatal(err)
	}
	acc, err := access.NewService(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	id := identity.New(db, v, idCfg, acc)
	inv := inventory.New(db, v, acc)
	if err := inv.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := acc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if pw, err := id.Bootstrap(ctx, httpAdminPassword); err != nil || pw != httpAdminPassword {
		t.Fatalf("bootstrap admin: %q, %v", pw, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Version == "" {
		cfg.Version = "test"
	}
	if cfg.CommandFilters == nil {
		if cfg.CommandFilters, err = cmdfilter.New(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	s := api.New(db, id, inv, acc, cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &httpEnv{t: t, srv: srv, api: s, db: db, id: id, inv: inv, acc: acc}
}

// hresp is one HTTP answer.
type hresp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   any // decoded body when it is JSON, else nil
}

func (r *hresp) String() string {
	b := r.Raw
	if len(b) > 600 {
		b = append(b[:600:600], "..."...)
	}
	return fmt.Sprintf("HTTP %d: %s", r.Status, b)
}

// obj is the body as a JSON object (fails the test otherwise).
func (r *hresp) obj(t testing.TB) map[string]any {
	t.Helper()
	m, ok := r.JSON.(map[string]any)
	if !ok {
		t.Fatalf("want a JSON object, got %s", r)
	}
	return m
}

// arr is the body as a JSON array.
func (r *hresp) arr(t testing.TB) []any {
	t.Helper()
	a, ok := r.JSON.([]any)
	if !ok {
		t.Fatalf("want a JSON array, got %s", r)
	}
	return a
}

// results are the items of a list envelope; it also checks the envelope.
func (r *hresp) results(t testing.TB) []map[string]any {
	t.Helper()
	m := r.obj(t)
	for _, k := range []string{"count", "next", "previous", "results"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("list envelope without %q: %s", k, r)
		}
	}
	raw, ok := m["results"].([]any)
	if !ok {
		t.Fatalf("results is not a list: %s", r)
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		if out[i], ok = x.(map[string]any); !ok {
			t.Fatalf("result %d is not an object: %s", i, r)
		}
	}
	return out
}

// count is the list envelope's count.
func (r *hresp) count(t testing.TB) int {
	t.Helper()
	n, ok := r.obj(t)["count"].(float64)
	if !ok {
		t.Fatalf("no numeric count: %s", r)
	}
	return int(n)
}

// errorEntries are the "errors" of an error body.
func (r *hresp) errorEntries(t testing.TB) []map[string]any {
	t.Helper()
	raw, _ := r.obj(t)["errors"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// want fails the test unless the status is one of statuses.
func (r *hresp) want(t testing.TB, statuses ...int) *hresp {
	t.Helper()
	for _, s := range statuses {
		if r.Status == s {
			return r
		}
	}
	t.Fatalf("want status %v, got %s", statuses, r)
	return r
}

// url makes an absolute URL of an API path.
func (e *httpEnv) url(path string) string { return e.srv.URL + path }

// req sends a request. body may be nil, a string or []byte (sent as is)
// or anything else (sent as JSON). hdr adds headers ("Name: value").
func (e *httpEnv) req(method, path, token string, body any, hdr ...string) *hresp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	r, err := http.NewRequest(method, e.url(path), rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		r.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := &hresp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			e.t.Fatalf("%s %s: body is not JSON (%v): %s", method, path, err, raw)
		}
	}
	return out
}

// do is req without extra headers.
func (e *httpEnv) do(method, path, token string, body any) *hresp {
	e.t.Helper()
	return e.req(method, path, token, body)
}

// tokenFor asks for a token and returns the answer.
func (e *httpEnv) tokenFor(username, password, otp string) *hresp {
	e.t.Helper()
	body := map[string]string{"username": username, "password": password}
	if otp != "" {
		body["otp"] = otp
	}
	return e.do("POST", "/api/v2/authentication/token/", "", body)
}

// login returns a bearer token or fails the test.
func (e *httpEnv) login(username, password string) string {
	e.t.Helper()
	r := e.tokenFor(username, password, "").want(e.t, http.StatusCreated)
	tok, _ := r.obj(e.t)["token"].(string)
	if tok == "" {
		e.t.Fatalf("no token in %s", r)
	}
	return tok
}

// httpUser is a user created through the API.
type httpUser struct {
	ID, Username, Token string
}

// createUser makes a user of role through the API (as admin) and logs
// them in. Each costs two password hashes, so tests reuse them.
func (e *httpEnv) createUser(username, role string) httpUser {
	e.t.Helper()
	r := e.do("POST", "/api/v2/users/users/", e.admin, map[string]any{
		"username": username, "role": role, "password": httpUserPassword, "email": username + "@example.com",
	}).want(e.t, http.StatusCreated)
	u := httpUser{ID: jstr(e.t, r.obj(e.t), "id"), Username: username}
	u.Token = e.login(username, httpUserPassword)
	return u
}

// createAsset makes one asset and returns its id.
func (e *httpEnv) createAsset(body map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/api/v2/assets/assets/", e.admin, body).want(e.t, http.StatusCreated)
	return jstr(e.t, r.obj(e.t), "id")
}

// createNode makes a node under parent ("" for the root) and returns its id.
func (e *httpEnv) createNode(name, parent string) string {
	e.t.Helper()
	body := map[string]any{"name": name}
	if parent != "" {
		body["parent"] = parent
	}
	r := e.do("POST", "/api/v2/assets/nodes/", e.admin, body).want(e.t, http.StatusCreated)
	return jstr(e.t, r.obj(e.t), "id")
}

// createSystemUser makes a password system user and returns its id.
func (e *httpEnv) createSystemUser(name string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v2/assets/system-users/", e.admin, map[string]any{
		"name": name, "username": "root", "protocol": "ssh", "password": "sys-user-pw-" + name,
	}).want(e.t, http.StatusCreated)
	return jstr(e.t, r.obj(e.t), "id")
}

// assetCount is the number of assets the admin sees.
func (e *httpEnv) assetCount() int {
	e.t.Helper()
	return e.do("GET", "/api/v2/assets/assets/?limit=1", e.admin, nil).want(e.t, http.StatusOK).count(e.t)
}

// jstr reads a string field of a JSON object.
func jstr(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("field %q is not a string in %v", key, m)
	}
	return s
}

// pluck collects a key of each object, in order.
func pluck(items []map[string]any, key string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it[key].(string)
	}
	return out
}
