package api_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

// myAssets is what GET perms/users/assets/ shows a token, by asset name.
func (e *httpEnv) myAssets(t testing.TB, token, query string) map[string]map[string]any {
	t.Helper()
	r := e.do("GET", "/api/v2/perms/users/assets/"+query, token, nil).want(t, http.StatusOK)
	out := map[string]map[string]any{}
	for _, it := range r.results(t) {
		out[jstr(t, it, "name")] = it
	}
	if r.count(t) != len(out) && !strings.Contains(query, "limit") {
		t.Fatalf("count %d but %d results: %s", r.count(t), len(out), r)
	}
	return out
}

func grantNames(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestHTTPPermissionGrantAndRevoke(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("alice", identity.RoleUser)
	web := e.createAsset(map[string]any{"name": "web-server-01", "ip": "192.168.1.101", "platform": map[string]any{"id": "2"}})
	e.createAsset(map[string]any{"name": "not-granted", "ip": "192.168.1.102"})
	su := e.createSystemUser("web-root")

	if got := e.myAssets(t, u.Token, ""); len(got) != 0 {
		t.Fatalf("before any permission alice sees %v", grantNames(got))
	}
	body := map[string]any{
		"name":         "alice-web",
		"users":        []map[string]any{{"id": u.ID}},
		"assets":       []string{web},
		"system_users": []any{map[string]any{"id": su, "name": "ignored"}},
		"actions":      []string{"connect", "upload", "download"},
	}
	r := e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, body).want(t, http.StatusCreated)
	p := r.obj(t)
	permID := jstr(t, p, "id")
	if p["is_valid"] != true || p["is_active"] != true || !slices.Equal(anyStrings(p["actions"]), []string{"connect", "upload", "download"}) {
		t.Fatalf("created permission: %s", r)
	}
	if us := p["users"].([]any); len(us) != 1 || us[0].(map[string]any)["name"] != "alice" {
		t.Errorf("users should be named: %v", p["users"])
	}

	// In force on the very next request.
	got := e.myAssets(t, u.Token, "")
	if !slices.Equal(grantNames(got), []string{"web-server-01"}) {
		t.Fatalf("after the grant alice sees %v", grantNames(got))
	}
	a := got["web-server-01"]
	if a["id"] != web || a["ip"] != "192.168.1.101" {
		t.Errorf("granted asset: %v", a)
	}
	sus, _ := a["system_users"].([]any)
	if len(sus) != 1 {
		t.Fatalf("system_users of the grant: %v", a["system_users"])
	}
	g := sus[0].(map[string]any)
	if g["id"] != su || g["name"] != "web-root" || !slices.Equal(anyStrings(g["actions"]), []string{"connect", "upload", "download"}) {
		t.Errorf("granted system user: %v", g)
	}
	if strings.Contains(string(e.do("GET", "/api/v2/perms/users/assets/", u.Token, nil).Raw), "sys-user-pw-") {
		t.Fatal("the user's asset view leaks the system user's password")
	}

	// The admin sees alice's view with ?user=.
	if adm := e.myAssets(t, e.admin, "?user="+u.ID); !slices.Equal(grantNames(adm), []string{"web-server-01"}) {
		t.Errorf("admin ?user=alice sees %v", grantNames(adm))
	}
	if own := e.myAssets(t, e.admin, ""); len(own) != 0 {
		t.Errorf("the admin was granted nothing but sees %v", grantNames(own))
	}

	// Deactivating stops it at once; reactivating restores it.
	e.do("PATCH", "/api/v2/perms/asset-permissions/"+permID+"/", e.admin, map[string]any{"is_active": false}).want(t, http.StatusOK)
	if got := e.myAssets(t, u.Token, ""); len(got) != 0 {
		t.Fatalf("after is_active=false alice still sees %v", grantNames(got))
	}
	e.do("PATCH", "/api/v2/perms/asset-permissions/"+permID+"/", e.admin, map[string]any{"is_active": true}).want(t, http.StatusOK)
	if got := e.myAssets(t, u.Token, ""); len(got) != 1 {
		t.Fatalf("after is_active=true alice sees %v", grantNames(got))
	}
	// Narrowing the actions shows at once.
	e.do("PATCH", "/api/v2/perms/asset-permissions/"+permID+"/", e.admin, map[string]any{"actions": []string{"connect"}}).want(t, http.StatusOK)
	g = e.myAssets(t, u.Token, "")["web-server-01"]["system_users"].([]any)[0].(map[string]any)
	if !slices.Equal(anyStrings(g["actions"]), []string{"connect"}) {
		t.Errorf("after narrowing to connect: %v", g["actions"])
	}
	// Deleting revokes at once.
	e.do("DELETE", "/api/v2/perms/asset-permissions/"+permID+"/", e.admin, nil).want(t, http.StatusNoContent)
	if got := e.myAssets(t, u.Token, ""); len(got) != 0 {
		t.Fatalf("after DELETE alice still sees %v", grantNames(got))
	}
	e.do("GET", "/api/v2/perms/asset-permissions/"+permID+"/", e.admin, nil).want(t, http.StatusNotFound)
}

func anyStrings(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i], _ = x.(string)
	}
	return out
}

func TestHTTPPermissionValidation(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("val", identity.RoleUser)
	a := e.createAsset(map[string]any{"name": "a1", "ip": "10.0.0.1"})
	su := e.createSystemUser("su1")
	good := func() map[string]any {
		return map[string]any{"name": "p", "users": []map[string]any{{"id": u.ID}}, "assets": []string{a},
			"system_users": []string{su}, "actions": []string{"connect"}}
	}
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"missing user", func(m map[string]any) { m["users"] = []map[string]any{{"id": "no-such-user"}} }, "users"},
		{"missing asset", func(m map[string]any) { m["assets"] = []string{a, "no-such-asset"} }, "assets"},
		{"missing system user", func(m map[string]any) { m["system_users"] = []string{"no-such-su"} }, "system_users"},
		{"missing node", func(m map[string]any) { m["nodes"] = []string{"no-such-node"} }, "nodes"},
		{"missing group", func(m map[string]any) { m["user_groups"] = []string{"no-such-group"} }, "user_groups"},
		{"unknown action", func(m map[string]any) { m["actions"] = []string{"fly"} }, "actions"},
		{"no action", func(m map[string]any) { m["actions"] = []string{} }, "actions"},
		{"no name", func(m map[string]any) { delete(m, "name") }, "name"},
		{"expiry before start", func(m map[string]any) { m["date_start"] = "2030-01-02"; m["date_expired"] = "2030-01-01" }, "date_expired"},
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, "colour"},
		{"users not a list", func(m map[string]any) { m["users"] = u.ID }, "users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := good()
			c.edit(body)
			r := e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, body).want(t, http.StatusBadRequest)
			if r.obj(t)["field"] != c.field {
				t.Errorf("want a 400 naming %q, got %s", c.field, r)
			}
		})
	}
	if n := e.do("GET", "/api/v2/perms/asset-permissions/", e.admin, nil).want(t, http.StatusOK).count(t); n != 0 {
		t.Fatalf("refused creates left %d permissions", n)
	}
	if got := e.myAssets(t, u.Token, ""); len(got) != 0 {
		t.Fatalf("refused creates granted %v", grantNames(got))
	}
	e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, good()).want(t, http.StatusCreated)
	e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, good()).want(t, http.StatusConflict)
}

func TestHTTPPermissionNodeGrant(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	nodeUser := e.createUser("nora", identity.RoleUser)
	su := e.createSystemUser("ops")

	parent := e.createNode("datacenter", "")
	child := e.createNode("rack-7", parent)
	other := e.createNode("elsewhere", "")
	e.createAsset(map[string]any{"name": "deep-host", "ip": "10.7.0.1", "nodes": []string{child}})
	e.createAsset(map[string]any{"name": "dc-host", "ip": "10.7.0.2", "nodes": []string{parent}})
	e.createAsset(map[string]any{"name": "far-host", "ip": "10.8.0.1", "nodes": []string{other}})
	e.createAsset(map[string]any{"name": "root-host", "ip": "10.9.0.1"})

	// A node grant reaches assets in the node's whole subtree.
	e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
		"name": "dc", "users": []string{nodeUser.ID}, "nodes": []string{parent}, "system_users": []string{su}, "actions": []string{"all"},
	}).want(t, http.StatusCreated)
	mine := e.myAssets(t, nodeUser.Token, "")
	if got := grantNames(mine); !slices.Equal(got, []string{"dc-host", "deep-host"}) {
		t.Fatalf("node grant on datacenter: nora sees %v", got)
	}
	g := mine["deep-host"]["system_users"].([]any)[0].(map[string]any)
	if len(anyStrings(g["actions"])) != 7 {
		t.Errorf(`"all" should be spelled out as the seven actions: %v`, g["actions"])
	}
	// An asset added to the subtree later is reached on the next request.
	e.createAsset(map[string]any{"name": "new-in-rack", "ip": "10.7.0.3", "nodes": []string{child}})
	if got := grantNames(e.myAssets(t, nodeUser.Token, "")); !slices.Equal(got, []string{"dc-host", "deep-host", "new-in-rack"}) {
		t.Fatalf("after adding an asset to rack-7 nora sees %v", got)
	}
	// The view pages and searches like any list.
	pg := e.do("GET", "/api/v2/perms/users/assets/?limit=1&offset=1", nodeUser.Token, nil).want(t, http.StatusOK)
	if pg.count(t) != 3 || !slices.Equal(pluck(pg.results(t), "name"), []string{"deep-host"}) || pg.obj(t)["next"] == nil || pg.obj(t)["previous"] == nil {
		t.Errorf("?limit=1&offset=1: %s", pg)
	}
	if got := grantNames(e.myAssets(t, nodeUser.Token, "?search=RACK")); !slices.Equal(got, []string{"new-in-rack"}) {
		t.Errorf("?search=RACK: %v", got)
	}
	if got := grantNames(e.myAssets(t, nodeUser.Token, "?search=10.7.0.2")); !slices.Equal(got, []string{"dc-host"}) {
		t.Errorf("?search by ip: %v", got)
	}
	// perms/users/nodes/ lists the nodes holding her assets, with ancestors.
	nr := e.do("GET", "/api/v2/perms/users/nodes/", nodeUser.Token, nil).want(t, http.StatusOK)
	counts := map[string]float64{}
	for _, n := range nr.results(t) {
		counts[jstr(t, n, "id")] = n["assets_amount"].(float64)
	}
	if counts[parent] != 3 || counts[child] != 2 || counts[httpRootNodeID] != 3 || len(counts) != 3 {
		t.Fatalf("nora's nodes: want datacenter 3, rack-7 2, root 3; got %s", nr)
	}
	if n := e.do("GET", "/api/v2/perms/users/nodes/?user="+nodeUser.ID, e.admin, nil).want(t, http.StatusOK).count(t); n != 3 {
		t.Errorf("admin ?user=nora nodes: %d", n)
	}

	// perms/users/nodes/{id}/assets/ keeps the subtree of that node.
	r := e.do("GET", "/api/v2/perms/users/nodes/"+child+"/assets/", nodeUser.Token, nil).want(t, http.StatusOK)
	if got := pluck(r.results(t), "name"); !slices.Equal(got, []string{"deep-host", "new-in-rack"}) {
		t.Fatalf("nodes/rack-7/assets: %v", got)
	}
	r = e.do("GET", "/api/v2/perms/users/nodes/"+parent+"/assets/", nodeUser.Token, nil).want(t, http.StatusOK)
	if got := pluck(r.results(t), "name"); !slices.Equal(got, []string{"dc-host", "deep-host", "new-in-rack"}) {
		t.Fatalf("nodes/datacenter/assets: %v", got)
	}
	r = e.do("GET", "/api/v2/perms/users/nodes/"+other+"/assets/", nodeUser.Token, nil).want(t, http.StatusOK)
	if r.count(t) != 0 {
		t.Fatalf("nodes/elsewhere/assets for nora: %s", r)
	}
	// Moving rack-7 out of datacenter takes its assets out of the grant.
	e.do("PATCH", "/api/v2/assets/nodes/"+child+"/", e.admin, map[string]any{"parent": other}).want(t, http.StatusOK)
	if got := grantNames(e.myAssets(t, nodeUser.Token, "")); !slices.Equal(got, []string{"dc-host"}) {
		t.Fatalf("after moving rack-7 away nora sees %v", got)
	}
}

func TestHTTPPermissionGroupGrant(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	member := e.createUser("gary", identity.RoleUser)
	outsider := e.createUser("lena", identity.RoleUser)
	su := e.createSystemUser("ops")
	host := e.createAsset(map[string]any{"name": "group-host", "ip": "10.9.0.1"})

	gr := e.do("POST", "/api/v2/users/groups/", e.admin, map[string]any{"name": "ops-team", "users": []string{member.ID}}).want(t, http.StatusCreated)
	group := jstr(t, gr.obj(t), "id")
	e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
		"name": "ops", "user_groups": []map[string]any{{"id": group}}, "assets": []string{host}, "system_users": []string{su}, "actions": []string{"connect"},
	}).want(t, http.StatusCreated)
	if got := grantNames(e.myAssets(t, member.Token, "")); !slices.Equal(got, []string{"group-host"}) {
		t.Fatalf("group member gary sees %v", got)
	}
	if got := grantNames(e.myAssets(t, outsider.Token, "")); len(got) != 0 {
		t.Fatalf("non-member lena sees %v", got)
	}
	// Membership changes apply on the next request.
	e.do("PATCH", "/api/v2/users/groups/"+group+"/", e.admin, map[string]any{"users": []string{outsider.ID}}).want(t, http.StatusOK)
	if got := grantNames(e.myAssets(t, member.Token, "")); len(got) != 0 {
		t.Fatalf("gary left the group but sees %v", got)
	}
	if got := grantNames(e.myAssets(t, outsider.Token, "")); !slices.Equal(got, []string{"group-host"}) {
		t.Fatalf("lena joined the group but sees %v", got)
	}
	e.do("DELETE", "/api/v2/users/groups/"+group+"/", e.admin, nil).want(t, http.StatusNoContent)
	if got := grantNames(e.myAssets(t, outsider.Token, "")); len(got) != 0 {
		t.Fatalf("the group is gone but lena sees %v", got)
	}
}

func TestHTTPPermissionTimeWindow(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("tim", identity.RoleUser)
	su := e.createSystemUser("ops")
	host := e.createAsset(map[string]any{"name": "timed-host", "ip": "10.9.0.1"})

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	ex := e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
		"name": "expired", "users": []string{u.ID}, "assets": []string{host}, "system_users": []string{su},
		"date_start": "2020-01-01", "date_expired": past,
	}).want(t, http.StatusCreated)
	if ex.obj(t)["is_valid"] != false {
		t.Errorf("an expired permission is shown as valid: %s", ex)
	}
	later := e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
		"name": "later", "users": []string{u.ID}, "assets": []string{host}, "system_users": []string{su}, "date_start": future,
	}).want(t, http.StatusCreated)
	if later.obj(t)["is_valid"] != false {
		t.Errorf("a not-yet-started permission is shown as valid: %s", later)
	}
	if got := grantNames(e.myAssets(t, u.Token, "")); len(got) != 0 {
		t.Fatalf("expired/future permissions grant %v", got)
	}
	// Extending the expiry brings it back.
	exID := jstr(t, ex.obj(t), "id")
	e.do("PATCH", "/api/v2/perms/asset-permissions/"+exID+"/", e.admin, map[string]any{"date_expired": future}).want(t, http.StatusOK)
	if got := grantNames(e.myAssets(t, u.Token, "")); !slices.Equal(got, []string{"timed-host"}) {
		t.Fatalf("after extending the expiry tim sees %v", got)
	}
	// A disabled user reaches nothing, even in the admin's ?user= view.
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"is_active": false}).want(t, http.StatusOK)
	if got := grantNames(e.myAssets(t, e.admin, "?user="+u.ID)); len(got) != 0 {
		t.Fatalf("disabled tim is shown as reaching %v", got)
	}
	e.do("GET", "/api/v2/perms/users/assets/?user=no-such-user", e.admin, nil).want(t, http.StatusNotFound)
}

func TestHTTPPermissionExport(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("exp", identity.RoleUser)
	aud := e.createUser("audrey", identity.RoleAuditor)
	a := e.createAsset(map[string]any{"name": "exported-host", "ip": "10.0.0.1"})
	su := e.createSystemUser("exp-su")
	for _, name := range []string{"perm-b", "=cmd|' /C calc'!A0"} {
		e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
			"name": name, "users": []string{u.ID}, "assets": []string{a}, "system_users": []string{su}, "actions": []string{"connect", "download"},
		}).want(t, http.StatusCreated)
	}
	for _, tok := range []string{e.admin, aud.Token} {
		r := e.do("GET", "/api/v2/perms/asset-permissions/export/?format=json", tok, nil).want(t, http.StatusOK)
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, ".json") {
			t.Errorf("json export Content-Disposition %q", cd)
		}
		var items []map[string]any
		if err := json.Unmarshal(r.Raw, &items); err != nil {
			t.Fatalf("json export is not a JSON array: %v: %s", err, r)
		}
		if len(items) != 2 {
			t.Fatalf("json export has %d items: %s", len(items), r)
		}
		for _, it := range items {
			if !slices.Equal(anyStrings(it["actions"]), []string{"connect", "download"}) || it["assets"].([]any)[0].(map[string]any)["name"] != "exported-host" {
				t.Errorf("exported item: %v", it)
			}
		}
	}
	// The default format is JSON too.
	if r := e.do("GET", "/api/v2/perms/asset-permissions/export/", e.admin, nil).want(t, http.StatusOK); !strings.HasPrefix(strings.TrimSpace(string(r.Raw)), "[") {
		t.Errorf("default export format: %s", r)
	}

	r := e.do("GET", "/api/v2/perms/asset-permissions/export/?format=csv", aud.Token, nil).want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, ".csv") {
		t.Errorf("csv Content-Disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Raw))).ReadAll()
	if err != nil {
		t.Fatalf("csv export does not parse: %v\n%s", err, r.Raw)
	}
	if len(recs) != 3 || recs[0][0] != "id" || recs[0][1] != "name" {
		t.Fatalf("csv: want a header and 2 rows, got %q", recs)
	}
	var names []string
	for _, rec := range recs[1:] {
		names = append(names, rec[1])
		if rec[4] != "exported-host" || rec[7] != "connect;download" {
			t.Errorf("csv row %q", rec)
		}
	}
	slices.Sort(names)
	// A name a spreadsheet would run as a formula is defused.
	if !slices.Equal(names, []string{"'=cmd|' /C calc'!A0", "perm-b"}) {
		t.Errorf("csv names %q", names)
	}

	// Filters apply to the export.
	var one []map[string]any
	r = e.do("GET", "/api/v2/perms/asset-permissions/export/?format=json&name=perm-b", e.admin, nil).want(t, http.StatusOK)
	if err := json.Unmarshal(r.Raw, &one); err != nil || len(one) != 1 {
		t.Errorf("filtered export: %v %s", err, r)
	}

	bad := e.do("GET", "/api/v2/perms/asset-permissions/export/?format=xml", e.admin, nil).want(t, http.StatusBadRequest)
	if bad.obj(t)["field"] != "format" {
		t.Errorf("?format=xml: want a 400 naming format, got %s", bad)
	}
	e.do("GET", "/api/v2/perms/asset-permissions/export/", u.Token, nil).want(t, http.StatusForbidden)
}
