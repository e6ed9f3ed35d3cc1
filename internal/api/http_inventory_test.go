package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/api"
)

// seedAsset is the body of the seed script's first asset.
const seedAsset = `{"name":"web-server-01","ip":"192.168.1.101","platform":{"id":"2"},"protocols":[{"name":"ssh","port":22}]}`

func TestHTTPAssetCreateSeedBody(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	r := e.do("POST", "/api/v2/assets/assets/", e.admin, seedAsset).want(t, http.StatusCreated)
	a := r.obj(t)
	if a["name"] != "web-server-01" || a["hostname"] != "web-server-01" || a["ip"] != "192.168.1.101" || a["is_active"] != true {
		t.Fatalf("created asset: %s", r)
	}
	if p, _ := a["platform"].(map[string]any); p["id"] != float64(2) || p["name"] != "Linux" {
		t.Fatalf("platform: want {id:2,name:Linux}, got %v", a["platform"])
	}
	nodes, _ := a["nodes"].([]any)
	if len(nodes) != 1 || nodes[0].(map[string]any)["name"] != "Default" || nodes[0].(map[string]any)["id"] != httpRootNodeID {
		t.Fatalf("nodes: want [Default], got %v", a["nodes"])
	}
	protos, _ := a["protocols"].([]any)
	if len(protos) != 1 || protos[0].(map[string]any)["name"] != "ssh" || protos[0].(map[string]any)["port"] != float64(22) || a["port"] != float64(22) {
		t.Fatalf("protocols: %v port %v", a["protocols"], a["port"])
	}
	if a["created_by"] != "admin" || a["date_created"] == nil {
		t.Errorf("created_by/date_created: %v %v", a["created_by"], a["date_created"])
	}
	// It is listed, and the same name again is a conflict naming the field.
	if n := e.assetCount(); n != 1 {
		t.Fatalf("count after one create: %d", n)
	}
	dup := e.do("POST", "/api/v2/assets/assets/", e.admin, seedAsset).want(t, http.StatusConflict)
	if dup.obj(t)["field"] != "name" {
		t.Errorf("duplicate: want field name, got %s", dup)
	}
	if _, has := dup.obj(t)["row"]; has {
		t.Errorf("a single-object create should not name a row: %s", dup)
	}
	// A platform given by bare id, as a number, also works.
	r = e.do("POST", "/api/v2/assets/assets/", e.admin, `{"name":"db-01","ip":"db-01.internal","platform":3}`).want(t, http.StatusCreated)
	a = r.obj(t)
	if p := a["platform"].(map[string]any); p["name"] != "MySQL" || a["port"] != float64(3306) {
		t.Errorf("platform 3 defaults: %s", r)
	}
}

func bulkRows(prefix string, n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"name": fmt.Sprintf("%s-%03d", prefix, i), "ip": fmt.Sprintf("10.9.%d.%d", i/250, i%250+1),
			"platform": map[string]any{"id": "2"}, "protocols": []map[string]any{{"name": "ssh", "port": 22}}}
	}
	return rows
}

func TestHTTPAssetBulkCreate(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	r := e.do("POST", "/api/v2/assets/assets/", e.admin, bulkRows("bulk", 25)).want(t, http.StatusCreated)
	list := r.arr(t)
	if len(list) != 25 {
		t.Fatalf("bulk of 25 returned %d items", len(list))
	}
	seen := map[string]bool{}
	for i, x := range list {
		m := x.(map[string]any)
		if m["name"] != fmt.Sprintf("bulk-%03d", i) {
			t.Fatalf("item %d is %v: the reply should keep the request's order", i, m["name"])
		}
		id, _ := m["id"].(string)
		if id == "" || seen[id] {
			t.Fatalf("item %d has id %q", i, id)
		}
		seen[id] = true
	}
	if n := e.assetCount(); n != 25 {
		t.Fatalf("count after a bulk of 25: %d", n)
	}
	// A list of one is still answered with a list.
	if one := e.do("POST", "/api/v2/assets/assets/", e.admin, bulkRows("solo", 1)).want(t, http.StatusCreated); len(one.arr(t)) != 1 {
		t.Fatalf("list of one: %s", one)
	}
	// An empty list creates nothing and says so.
	e.do("POST", "/api/v2/assets/assets/", e.admin, "[]").want(t, http.StatusBadRequest)
}

func TestHTTPAssetBulkAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	e.createAsset(map[string]any{"name": "already-there", "ip": "10.0.0.1"})
	type bad struct {
		row   int
		field string
	}
	cases := []struct {
		name   string
		mutate func(rows []map[string]any)
		status int
		want   []bad
	}{
		{"invalid ip", func(r []map[string]any) { r[1]["ip"] = "10.0.0.300" }, 400, []bad{{1, "ip"}}},
		{"port out of range", func(r []map[string]any) { r[1]["protocols"] = []map[string]any{{"name": "ssh", "port": 70000}} }, 400, []bad{{1, "protocols[0].port"}}},
		{"unknown protocol", func(r []map[string]any) { r[2]["protocols"] = []map[string]any{{"name": "gopher", "port": 70}} }, 400, []bad{{2, "protocols[0].name"}}},
		{"unknown field", func(r []map[string]any) { r[1]["colour"] = "blue" }, 400, []bad{{1, "colour"}}},
		{"wrong type", func(r []map[string]any) { r[2]["name"] = 5 }, 400, []bad{{2, "name"}}},
		{"duplicate name in batch", func(r []map[string]any) { r[2]["name"] = r[0]["name"] }, 409, []bad{{2, "name"}}},
		{"name exists in database", func(r []map[string]any) { r[1]["name"] = "already-there" }, 409, []bad{{1, "name"}}},
		{"unknown platform", func(r []map[string]any) { r[1]["platform"] = map[string]any{"id": "99"} }, 400, []bad{{1, "platform"}}},
		{"missing node", func(r []map[string]any) { r[1]["nodes"] = []string{"no-such-node"} }, 400, []bad{{1, "nodes"}}},
		{"missing name", func(r []map[string]any) { delete(r[0], "name") }, 400, []bad{{0, "name"}}},
		{"two bad rows", func(r []map[string]any) { r[0]["ip"] = "not an ip"; r[2]["platform"] = "99" }, 400, []bad{{0, "ip"}, {2, "platform"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.assetCount()
			rows := bulkRows(strings.ReplaceAll(c.name, " ", "-"), 3)
			c.mutate(rows)
			r := e.do("POST", "/api/v2/assets/assets/", e.admin, rows).want(t, c.status)
			got := r.errorEntries(t)
			if len(got) != len(c.want) {
				t.Fatalf("want %d error entries, got %s", len(c.want), r)
			}
			sort.Slice(got, func(i, j int) bool { return got[i]["row"].(float64) < got[j]["row"].(float64) })
			for i, w := range c.want {
				if got[i]["row"] != float64(w.row) || got[i]["field"] != w.field || got[i]["detail"] == "" {
					t.Errorf("error %d: want row %d field %q, got %v", i, w.row, w.field, got[i])
				}
			}
			if after := e.assetCount(); after != before {
				t.Fatalf("a failed bulk created %d assets", after-before)
			}
		})
	}
}

func TestHTTPAssetListQuery(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	for _, a := range []map[string]any{
		{"name": "alpha-db", "ip": "10.1.0.1"},
		{"name": "beta-web", "ip": "10.1.0.2"},
		{"name": "gamma-web", "ip": "10.2.0.3", "is_active": false},
		{"name": "delta", "ip": "192.168.5.4"},
		{"name": "epsilon", "ip": "172.16.0.5"},
	} {
		e.createAsset(a)
	}
	list := func(q string) *hresp {
		return e.do("GET", "/api/v2/assets/assets/?"+q, e.admin, nil)
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"ip__icontains=10.1.", []string{"alpha-db", "beta-web"}},
		{"name__in=alpha-db,delta,nope", []string{"alpha-db", "delta"}},
		{"is_active=false", []string{"gamma-web"}},
		{"is_active=true&name__icontains=WEB", []string{"beta-web"}},
		{"order=-name", []string{"gamma-web", "epsilon", "delta", "beta-web", "alpha-db"}},
		{"search=web", []string{"beta-web", "gamma-web"}},
		{"", []string{"alpha-db", "beta-web", "delta", "epsilon", "gamma-web"}},
	}
	for _, c := range cases {
		r := list(c.q).want(t, http.StatusOK)
		if got := pluck(r.results(t), "name"); !slices.Equal(got, c.want) || r.count(t) != len(c.want) {
			t.Errorf("?%s: got %v (count %d), want %v", c.q, got, r.count(t), c.want)
		}
	}

	// Paging: count is the total, next/previous walk the pages.
	p1 := list("limit=2&order=name").want(t, http.StatusOK)
	m := p1.obj(t)
	if p1.count(t) != 5 || m["previous"] != nil || !slices.Equal(pluck(p1.results(t), "name"), []string{"alpha-db", "beta-web"}) {
		t.Fatalf("page 1: %s", p1)
	}
	next, _ := m["next"].(string)
	if next == "" {
		t.Fatalf("page 1 has no next link: %s", p1)
	}
	nu, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if nu.Query().Get("limit") != "2" || nu.Query().Get("offset") != "2" || nu.Query().Get("order") != "name" {
		t.Fatalf("next link %q should keep order and advance the offset to 2", next)
	}
	p2 := e.do("GET", nu.RequestURI(), e.admin, nil).want(t, http.StatusOK)
	if !slices.Equal(pluck(p2.results(t), "name"), []string{"delta", "epsilon"}) || p2.obj(t)["previous"] == nil {
		t.Fatalf("page 2 (from next link): %s", p2)
	}
	p3 := list("limit=2&offset=4&order=name").want(t, http.StatusOK)
	if !slices.Equal(pluck(p3.results(t), "name"), []string{"gamma-web"}) || p3.obj(t)["next"] != nil || p3.obj(t)["previous"] == nil {
		t.Fatalf("last page: %s", p3)
	}

	// ?fields= keeps only the named keys.
	r := list("fields=id,name").want(t, http.StatusOK)
	for _, it := range r.results(t) {
		if len(it) != 2 || it["id"] == nil || it["name"] == nil {
			t.Fatalf("?fields=id,name gave %v", it)
		}
	}
	if r.count(t) != 5 {
		t.Errorf("?fields= changed the count: %d", r.count(t))
	}

	// Bad query parameters are 400s that name the parameter.
	for q, param := range map[string]string{
		"fields=nope":      "fields",
		"nme=x":            "nme",
		"limit=abc":        "limit",
		"limit=0":          "limit",
		"offset=-1":        "offset",
		"order=colour":     "order",
		"is_active=maybe":  "is_active",
		"name__fuzzy=x":    "name__fuzzy",
		"id__icontains=ab": "id__icontains",
	} {
		r := list(q).want(t, http.StatusBadRequest)
		if m := r.obj(t); m["field"] != param || m["code"] == nil || !strings.Contains(m["detail"].(string), param) {
			t.Errorf("?%s: want a 400 naming %q, got %s", q, param, r)
		}
	}
}

// TestHTTPAssetFieldsResponseKeys: ?fields= should accept every key the
// response has, not only the filterable ones.
func TestHTTPAssetFieldsResponseKeys(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	e.do("POST", "/api/v2/assets/assets/", e.admin, seedAsset).want(t, http.StatusCreated)
	r := e.do("GET", "/api/v2/assets/assets/?fields=id,name,protocols,nodes", e.admin, nil)
	if r.Status == http.StatusBadRequest {
		t.Fatal("?fields= is checked against the filter schema (store.AssetSchema has no Output), so response keys such as protocols, nodes, port, labels cannot be selected: " + r.String())
	}
	r.want(t, http.StatusOK)
	for _, it := range r.results(t) {
		if len(it) != 4 || it["protocols"] == nil || it["nodes"] == nil {
			t.Fatalf("?fields=id,name,protocols,nodes gave %v", it)
		}
	}
}

func TestHTTPAssetBodyChecks(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{MaxBody: 2048})
	big := bulkRows("big", 40) // well over 2 KiB of JSON
	if js, _ := json.Marshal(big); len(js) <= 2048 {
		t.Fatalf("test body is only %d bytes", len(js))
	}
	r := e.do("POST", "/api/v2/assets/assets/", e.admin, big).want(t, http.StatusRequestEntityTooLarge)
	if r.obj(t)["code"] == nil || r.obj(t)["detail"] == nil {
		t.Errorf("413 body: %s", r)
	}
	if n := e.assetCount(); n != 0 {
		t.Fatalf("an oversized body created %d assets", n)
	}
	// Under the cap it is accepted.
	e.do("POST", "/api/v2/assets/assets/", e.admin, bulkRows("small", 3)).want(t, http.StatusCreated)

	for _, c := range []struct{ body, field string }{
		{`{"name": 5, "ip": "10.0.0.1"}`, "name"},
		{`{"name": "x", "ip": "10.0.0.1", "is_active": "yes"}`, "is_active"},
		{`{"name": "x", "ip": "10.0.0.1", "protocols": {"name": "ssh"}}`, "protocols"},
		{`{"name": "x", "ip": "10.0.0.1", "colour": "red"}`, "colour"},
	} {
		r := e.do("POST", "/api/v2/assets/assets/", e.admin, c.body).want(t, http.StatusBadRequest)
		if r.obj(t)["field"] != c.field {
			t.Errorf("%s: want a 400 naming %q, got %s", c.body, c.field, r)
		}
	}
	for _, body := range []string{`{"name": "x"`, `{"name":"x","ip":"10.0.0.1"} {}`, ``, `nonsense`} {
		e.do("POST", "/api/v2/assets/assets/", e.admin, body).want(t, http.StatusBadRequest)
	}
	// A body that is not JSON by content type is refused.
	e.req("POST", "/api/v2/assets/assets/", e.admin, `{"name":"form","ip":"10.0.0.9"}`, "Content-Type: application/x-www-form-urlencoded").want(t, http.StatusBadRequest)
	if n := e.assetCount(); n != 3 {
		t.Fatalf("bad bodies created assets: count %d", n)
	}
}

func TestHTTPAssetUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	id := e.createAsset(map[string]any{"name": "old-name", "ip": "10.0.0.1", "comment": "keep me"})
	r := e.do("PATCH", "/api/v2/assets/assets/"+id+"/", e.admin, map[string]any{"name": "new-name"}).want(t, http.StatusOK)
	if m := r.obj(t); m["name"] != "new-name" || m["ip"] != "10.0.0.1" || m["comment"] != "keep me" {
		t.Fatalf("PATCH name: fields not given must be kept: %s", r)
	}
	got := e.do("GET", "/api/v2/assets/assets/"+id+"/", e.admin, nil).want(t, http.StatusOK).obj(t)
	if got["name"] != "new-name" {
		t.Fatalf("GET after PATCH: %v", got)
	}
	e.do("PATCH", "/api/v2/assets/assets/"+id+"/", e.admin, map[string]any{"ip": "999.1.1.1"}).want(t, http.StatusBadRequest)
	other := e.createAsset(map[string]any{"name": "other", "ip": "10.0.0.2"})
	e.do("PATCH", "/api/v2/assets/assets/"+other+"/", e.admin, map[string]any{"name": "new-name"}).want(t, http.StatusConflict)
	e.do("PATCH", "/api/v2/assets/assets/no-such-id/", e.admin, map[string]any{"name": "z"}).want(t, http.StatusNotFound)

	e.do("DELETE", "/api/v2/assets/assets/"+id+"/", e.admin, nil).want(t, http.StatusNoContent)
	nf := e.do("GET", "/api/v2/assets/assets/"+id+"/", e.admin, nil).want(t, http.StatusNotFound)
	if nf.obj(t)["code"] != "not_found" {
		t.Errorf("404 body: %s", nf)
	}
	e.do("DELETE", "/api/v2/assets/assets/"+id+"/", e.admin, nil).want(t, http.StatusNotFound)
	if n := e.assetCount(); n != 1 {
		t.Fatalf("count after delete: %d", n)
	}
}

func TestHTTPPlatforms(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("plain", "user")
	r := e.do("GET", "/api/v2/assets/platforms/", u.Token, nil).want(t, http.StatusOK)
	byID := map[float64]string{}
	for _, p := range r.results(t) {
		byID[p["id"].(float64)] = p["name"].(string)
	}
	if byID[2] != "Linux" || byID[3] != "MySQL" {
		t.Fatalf("platforms: want 2 Linux and 3 MySQL, got %v", byID)
	}
	if p := e.do("GET", "/api/v2/assets/platforms/3/", u.Token, nil).want(t, http.StatusOK).obj(t); p["name"] != "MySQL" {
		t.Fatalf("platform 3: %v", p)
	}
	e.do("GET", "/api/v2/assets/platforms/99/", u.Token, nil).want(t, http.StatusNotFound)
	e.do("GET", "/api/v2/assets/platforms/abc/", u.Token, nil).want(t, http.StatusNotFound)
}

func TestHTTPNodes(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	prod := e.createNode("prod", "")
	r := e.do("GET", "/api/v2/assets/nodes/?name=prod", e.admin, nil).want(t, http.StatusOK)
	if res := r.results(t); len(res) != 1 || res[0]["parent"] != httpRootNodeID {
		t.Fatalf("a node created without parent should sit under the root: %s", r)
	}
	web := e.createNode("prod-web", prod)
	e.do("POST", "/api/v2/assets/nodes/", e.admin, map[string]any{"name": "x", "parent": "no-such-node"}).want(t, http.StatusBadRequest)
	e.do("POST", "/api/v2/assets/nodes/", e.admin, map[string]any{"name": ""}).want(t, http.StatusBadRequest)

	r = e.do("PATCH", "/api/v2/assets/nodes/"+prod+"/", e.admin, map[string]any{"name": "production"}).want(t, http.StatusOK)
	if m := r.obj(t); m["name"] != "production" || m["parent"] != httpRootNodeID {
		t.Fatalf("rename: %s", r)
	}
	// Moving a node under its own child would make a cycle.
	r = e.do("PATCH", "/api/v2/assets/nodes/"+prod+"/", e.admin, map[string]any{"parent": web}).want(t, http.StatusBadRequest)
	if r.obj(t)["field"] != "parent" {
		t.Errorf("cycle: want field parent, got %s", r)
	}
	e.do("PATCH", "/api/v2/assets/nodes/"+prod+"/", e.admin, map[string]any{"parent": prod}).want(t, http.StatusBadRequest)
	e.do("PATCH", "/api/v2/assets/nodes/"+httpRootNodeID+"/", e.admin, map[string]any{"parent": prod}).want(t, http.StatusBadRequest)
	if got := e.do("GET", "/api/v2/assets/nodes/"+prod+"/", e.admin, nil).want(t, http.StatusOK).obj(t)["parent"]; got != httpRootNodeID {
		t.Fatalf("a refused move changed the parent to %v", got)
	}

	staging := e.createNode("staging", "")
	r = e.do("PATCH", "/api/v2/assets/nodes/"+web+"/", e.admin, map[string]any{"parent": staging}).want(t, http.StatusOK)
	if r.obj(t)["parent"] != staging {
		t.Fatalf("move: %s", r)
	}
	// Non-empty nodes (a child, or an asset) cannot be deleted.
	e.do("DELETE", "/api/v2/assets/nodes/"+staging+"/", e.admin, nil).want(t, http.StatusConflict)
	e.createAsset(map[string]any{"name": "in-web", "ip": "10.0.0.1", "nodes": []string{web}})
	e.do("DELETE", "/api/v2/assets/nodes/"+web+"/", e.admin, nil).want(t, http.StatusConflict)
	e.do("DELETE", "/api/v2/assets/nodes/"+httpRootNodeID+"/", e.admin, nil).want(t, http.StatusConflict)
	// ?node= lists the assets directly in a node.
	if got := pluck(e.do("GET", "/api/v2/assets/assets/?node="+web, e.admin, nil).want(t, http.StatusOK).results(t), "name"); !slices.Equal(got, []string{"in-web"}) {
		t.Fatalf("?node=web: %v", got)
	}
	// The now-empty node goes.
	e.do("DELETE", "/api/v2/assets/nodes/"+prod+"/", e.admin, nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v2/assets/nodes/"+prod+"/", e.admin, nil).want(t, http.StatusNotFound)
}

// ed25519PEM returns a fresh OpenSSH private key in PEM.
func ed25519PEM(t testing.TB) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(blk))
}

// secretPieces are the fragments of a secret that must never be shown:
// the whole text and each base64 line of a PEM body.
func secretPieces(secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		out = append(out, s)
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestHTTPSystemUserSecretsNeverShown(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	password := "Sup3r-Secret-Target-Pw!"
	key := ed25519PEM(t)
	pieces := secretPieces(password, key)
	var bodies []*hresp
	check := func(r *hresp) *hresp {
		t.Helper()
		bodies = append(bodies, r)
		return r
	}

	r := check(e.do("POST", "/api/v2/assets/system-users/", e.admin, map[string]any{
		"name": "deploy", "username": "deploy", "protocol": "ssh", "password": password, "private_key": key,
	}).want(t, http.StatusCreated))
	m := r.obj(t)
	if m["has_password"] != true || m["has_private_key"] != true || m["username"] != "deploy" {
		t.Fatalf("created system user: %s", r)
	}
	if _, has := m["password"]; has {
		t.Fatalf("response has a password key: %s", r)
	}
	id := jstr(t, m, "id")
	check(e.do("GET", "/api/v2/assets/system-users/", e.admin, nil).want(t, http.StatusOK))
	check(e.do("GET", "/api/v2/audits/operate-logs/?limit=100", e.admin, nil).want(t, http.StatusOK))

	// Invalid key: 400 on the field, without echoing the key.
	badKey := "-----BEGIN OPENSSH PRIVATE KEY-----\nTm90QUtleU1hdGVyaWFsWFlaMTIzNDU2Nzg5MGFiY2RlZg==\n-----END OPENSSH PRIVATE KEY-----\n"
	bad := check(e.do("POST", "/api/v2/assets/system-users/", e.admin, map[string]any{
		"name": "broken", "username": "x", "private_key": badKey,
	}).want(t, http.StatusBadRequest))
	if bad.obj(t)["field"] != "private_key" {
		t.Errorf("invalid key: want field private_key, got %s", bad)
	}
	if strings.Contains(string(bad.Raw), "Tm90QUtleU1hdGVyaWFs") {
		t.Errorf("the 400 echoes the key: %s", bad)
	}
	if n := e.do("GET", "/api/v2/assets/system-users/", e.admin, nil).want(t, http.StatusOK).count(t); n != 1 {
		t.Errorf("an invalid key still created a system user (count %d)", n)
	}

	// The operate log records that secrets were set, redacted.
	logs := e.do("GET", "/api/v2/audits/operate-logs/?resource_type=system_user", e.admin, nil).want(t, http.StatusOK)
	bodies = append(bodies, logs)
	rows := logs.results(t)
	if len(rows) != 1 || rows[0]["action"] != "create" || rows[0]["resource"] != "deploy" {
		t.Fatalf("operate log of the create: %s", logs)
	}
	var diff map[string]map[string]any
	js, _ := json.Marshal(rows[0]["diff"])
	if err := json.Unmarshal(js, &diff); err != nil {
		t.Fatalf("diff %s: %v", js, err)
	}
	if diff["password"]["new"] != "******" || diff["private_key"]["new"] != "******" || diff["username"]["new"] != "deploy" {
		t.Errorf("create diff should show redacted secrets and plain fields: %s", js)
	}

	scan := func() {
		t.Helper()
		for _, b := range bodies {
			for _, p := range pieces {
				if strings.Contains(string(b.Raw), p) {
					t.Fatalf("a response contains secret material %q: %s", p, b)
				}
			}
		}
	}
	scan()
	check(e.do("GET", "/api/v2/assets/system-users/"+id+"/", e.admin, nil).want(t, http.StatusOK))
	newPassword := "An0ther-Target-Secret"
	pieces = append(pieces, newPassword)
	up := check(e.do("PATCH", "/api/v2/assets/system-users/"+id+"/", e.admin, map[string]any{"password": newPassword, "comment": "rotated"}).want(t, http.StatusOK))
	if up.obj(t)["has_private_key"] != true || up.obj(t)["comment"] != "rotated" {
		t.Errorf("PATCH password kept the key? %s", up)
	}
	cleared := check(e.do("PATCH", "/api/v2/assets/system-users/"+id+"/", e.admin, map[string]any{"private_key": ""}).want(t, http.StatusOK))
	if cleared.obj(t)["has_private_key"] != false || cleared.obj(t)["has_password"] != true {
		t.Errorf("clearing the key: %s", cleared)
	}
	check(e.do("GET", "/api/v2/audits/operate-logs/?limit=100", e.admin, nil).want(t, http.StatusOK))
	check(e.do("DELETE", "/api/v2/assets/system-users/"+id+"/", e.admin, nil).want(t, http.StatusNoContent))
	check(e.do("GET", "/api/v2/audits/operate-logs/?limit=100", e.admin, nil).want(t, http.StatusOK))
	scan()
}
