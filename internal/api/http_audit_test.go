package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

// diffOf decodes an operate log row's diff.
func diffOf(t testing.TB, row map[string]any) map[string]map[string]any {
	t.Helper()
	js, _ := json.Marshal(row["diff"])
	var d map[string]map[string]any
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatalf("diff %s: %v", js, err)
	}
	return d
}

func (e *httpEnv) operateLogs(t testing.TB, query string) []map[string]any {
	t.Helper()
	return e.do("GET", "/api/v2/audits/operate-logs/?"+query, e.admin, nil).want(t, http.StatusOK).results(t)
}

func TestHTTPOperateLogCreates(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	aud := e.createUser("audrey", identity.RoleAuditor)
	assetID := e.createAsset(map[string]any{"name": "oplog-a", "ip": "10.0.0.1", "comment": "first"})
	nodeID := e.createNode("oplog-node", "")
	su := e.createSystemUser("oplog-su")
	e.do("POST", "/api/v2/perms/asset-permissions/", e.admin, map[string]any{
		"name": "oplog-perm", "users": []string{aud.ID}, "assets": []string{assetID}, "system_users": []string{su}, "actions": []string{"connect"},
	}).want(t, http.StatusCreated)

	want := []struct{ typ, id, name string }{
		{"user", aud.ID, "audrey"},
		{"asset", assetID, "oplog-a"},
		{"node", nodeID, "oplog-node"},
		{"system_user", su, "oplog-su"},
		{"asset_permission", "", "oplog-perm"},
	}
	for _, w := range want {
		rows := e.operateLogs(t, "user=admin&resource_type="+w.typ)
		if len(rows) != 1 {
			t.Fatalf("%s: want 1 operate-log row, got %d: %v", w.typ, len(rows), rows)
		}
		r := rows[0]
		if r["action"] != "create" || r["resource"] != w.name || r["user"] != "admin" || r["remote_addr"] != "127.0.0.1" || r["datetime"] == nil {
			t.Errorf("%s create row: %v", w.typ, r)
		}
		if w.id != "" && r["resource_id"] != w.id {
			t.Errorf("%s create row names resource_id %v, want %s", w.typ, r["resource_id"], w.id)
		}
	}
	d := diffOf(t, e.operateLogs(t, "resource_type=asset")[0])
	if d["name"]["new"] != "oplog-a" || d["ip"]["new"] != "10.0.0.1" || d["comment"]["new"] != "first" {
		t.Errorf("asset create diff: %v", d)
	}
	if _, has := d["name"]["old"]; has {
		t.Errorf("a create has no old values: %v", d)
	}
	// A user's password is recorded as set, never as its hash.
	ud := diffOf(t, e.operateLogs(t, "resource_type=user&resource_id="+aud.ID)[0])
	if ud["password"]["new"] != "******" || ud["username"]["new"] != "audrey" || ud["role"]["new"] != "auditor" {
		t.Errorf("user create diff: %v", ud)
	}
	raw := e.do("GET", "/api/v2/audits/operate-logs/?limit=1000", aud.Token, nil).want(t, http.StatusOK)
	if strings.Contains(string(raw.Raw), "argon2") || strings.Contains(string(raw.Raw), httpUserPassword) {
		t.Fatal("the operate log shows a password or its hash")
	}
	// Five creates by admin, and the first start's bootstrap of admin by "system".
	if raw.count(t) != 6 {
		t.Errorf("the auditor sees %d operate-log rows, want 6", raw.count(t))
	}
	// Filters: by user and action.
	if n := len(e.operateLogs(t, "action=create&user=admin")); n != 5 {
		t.Errorf("action=create&user=admin: %d rows", n)
	}
	if n := len(e.operateLogs(t, "action=delete")); n != 0 {
		t.Errorf("action=delete: %d rows", n)
	}
	// Refused writes leave no row.
	e.do("POST", "/api/v2/assets/assets/", e.admin, map[string]any{"name": "oplog-a", "ip": "10.0.0.2"}).want(t, http.StatusConflict)
	e.do("POST", "/api/v2/assets/assets/", aud.Token, map[string]any{"name": "by-auditor", "ip": "10.0.0.3"}).want(t, http.StatusForbidden)
	if n := len(e.operateLogs(t, "resource_type=asset")); n != 1 {
		t.Errorf("refused asset creates were logged: %d rows", n)
	}
}

func TestHTTPOperateLogUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	id := e.createAsset(map[string]any{"name": "before-name", "ip": "10.0.0.1"})
	e.do("PATCH", "/api/v2/assets/assets/"+id+"/", e.admin, map[string]any{"name": "after-name", "ip": "10.0.0.1"}).want(t, http.StatusOK)
	e.do("DELETE", "/api/v2/assets/assets/"+id+"/", e.admin, nil).want(t, http.StatusNoContent)

	rows := e.operateLogs(t, "resource_type=asset&resource_id="+id+"&order=id")
	if len(rows) != 3 {
		t.Fatalf("want create, update, delete rows; got %v", rows)
	}
	for i, act := range []string{"create", "update", "delete"} {
		if rows[i]["action"] != act || rows[i]["user"] != "admin" {
			t.Errorf("row %d: want %s by admin, got %v", i, act, rows[i])
		}
	}
	up := diffOf(t, rows[1])
	if up["name"]["old"] != "before-name" || up["name"]["new"] != "after-name" {
		t.Errorf("rename diff: want name before-name -> after-name, got %v", up)
	}
	if _, has := up["ip"]; has {
		t.Errorf("an unchanged field is in the diff: %v", up)
	}
	if len(up) != 1 {
		t.Errorf("rename diff should have only name: %v", up)
	}
	if rows[1]["resource"] != "after-name" || rows[2]["resource"] != "after-name" {
		t.Errorf("update/delete rows name the resource %v / %v", rows[1]["resource"], rows[2]["resource"])
	}
	del := diffOf(t, rows[2])
	if del["name"]["old"] != "after-name" {
		t.Errorf("delete diff should keep the old values: %v", del)
	}
	if _, has := del["name"]["new"]; has {
		t.Errorf("a delete has no new values: %v", del)
	}

	// A user change: role and is_active, with a password change redacted.
	u := e.createUser("changed", identity.RoleUser)
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"role": "auditor", "password": "another-Passw0rd"}).want(t, http.StatusOK)
	urows := e.operateLogs(t, "resource_type=user&action=update&resource_id="+u.ID)
	if len(urows) != 1 {
		t.Fatalf("user update rows: %v", urows)
	}
	ud := diffOf(t, urows[0])
	if ud["role"]["old"] != "user" || ud["role"]["new"] != "auditor" || ud["password"]["old"] != "******" || ud["password"]["new"] != "******" {
		t.Errorf("user update diff: %v", ud)
	}
	// An unlock is logged as well.
	e.do("POST", "/api/v2/users/users/"+u.ID+"/unlock/", e.admin, nil).want(t, http.StatusNoContent)
	if n := len(e.operateLogs(t, "resource_type=user&action=update&resource_id="+u.ID)); n != 2 {
		t.Errorf("the unlock left no operate-log row (%d update rows)", n)
	}
}

func TestHTTPSessionsList(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("sam", identity.RoleUser)
	for _, tok := range []string{e.admin, u.Token} {
		r := e.do("GET", "/api/v2/terminal/sessions/?limit=20&start_time__gte=2023-11-01T00:00:00Z", tok, nil).want(t, http.StatusOK)
		m := r.obj(t)
		res, ok := m["results"].([]any)
		if r.count(t) != 0 || !ok || len(res) != 0 || m["next"] != nil || m["previous"] != nil {
			t.Fatalf("empty sessions list: want {count:0, results:[]}, got %s", r)
		}
	}
	// An offset in the time is accepted when '+' is encoded.
	e.do("GET", "/api/v2/terminal/sessions/?start_time__gte="+url.QueryEscape("2023-11-01T08:00:00+08:00"), e.admin, nil).want(t, http.StatusOK)
	for _, q := range []string{"start_time__gte=yesterday", "start_time__icontains=2023", "is_finished=perhaps", "limit=-5", "colour=red"} {
		r := e.do("GET", "/api/v2/terminal/sessions/?"+q, e.admin, nil).want(t, http.StatusBadRequest)
		if r.obj(t)["code"] != "invalid_query" {
			t.Errorf("?%s: %s", q, r)
		}
	}
	e.do("GET", "/api/v2/terminal/sessions/no-such-session/", e.admin, nil).want(t, http.StatusNotFound)
}
