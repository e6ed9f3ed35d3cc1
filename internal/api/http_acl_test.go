package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

func TestHTTPCommandFilters(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	user := e.createUser("acl-user", identity.RoleUser)

	e.do("POST", "/api/v2/acls/command-groups/", user.Token, map[string]any{"name": "x", "content": "rm"}).want(t, http.StatusForbidden)
	bad := e.do("POST", "/api/v2/acls/command-groups/", e.admin, map[string]any{"name": "bad", "type": "regex", "content": "(unclosed"}).want(t, http.StatusBadRequest)
	if f := bad.obj(t)["field"]; f != "content" {
		t.Fatalf("bad regex error names %v", f)
	}
	g := e.do("POST", "/api/v2/acls/command-groups/", e.admin, map[string]any{"name": "danger", "type": "command", "content": "rm -rf /\nreboot"}).want(t, http.StatusCreated).obj(t)
	if g["ignore_case"] != true || g["type"] != "command" {
		t.Fatalf("group defaults: %v", g)
	}
	e.do("POST", "/api/v2/acls/command-filters/", e.admin, map[string]any{"name": "f", "priority": 0, "command_groups": []string{jstr(t, g, "id")}}).want(t, http.StatusBadRequest)
	e.do("POST", "/api/v2/acls/command-filters/", e.admin, map[string]any{"name": "f", "action": "drop", "command_groups": []string{jstr(t, g, "id")}}).want(t, http.StatusBadRequest)
	e.do("POST", "/api/v2/acls/command-filters/", e.admin, map[string]any{"name": "f", "users": []string{"nobody"}, "command_groups": []string{jstr(t, g, "id")}}).want(t, http.StatusBadRequest)
	f := e.do("POST", "/api/v2/acls/command-filters/", e.admin, map[string]any{"name": "no-danger", "priority": 10, "action": "reject",
		"users": []map[string]string{{"id": user.ID}}, "command_groups": []string{jstr(t, g, "id")}}).want(t, http.StatusCreated).obj(t)
	if f["action"] != "reject" || !strings.Contains(e.do("GET", "/api/v2/acls/command-filters/", e.admin, nil).want(t, http.StatusOK).String(), `"name":"danger"`) {
		t.Fatalf("filter: %v", f)
	}
	// In a list, each filter shows its own members' names (looked up once
	// for the whole page).
	g2 := e.do("POST", "/api/v2/acls/command-groups/", e.admin, map[string]any{"name": "reboots", "content": "reboot"}).want(t, http.StatusCreated).obj(t)
	f2 := e.do("POST", "/api/v2/acls/command-filters/", e.admin, map[string]any{"name": "no-reboot", "priority": 20, "action": "warn",
		"command_groups": []string{jstr(t, g2, "id")}}).want(t, http.StatusCreated).obj(t)
	var listed struct {
		Results []struct {
			ID            string `json:"id"`
			Users         []struct{ Name string }
			CommandGroups []struct{ Name string } `json:"command_groups"`
		}
	}
	if err := json.Unmarshal(e.do("GET", "/api/v2/acls/command-filters/?order=priority", e.admin, nil).want(t, http.StatusOK).Raw, &listed); err != nil {
		t.Fatal(err)
	}
	if r := listed.Results; len(r) != 2 || r[0].ID != jstr(t, f, "id") || len(r[0].Users) != 1 || r[0].Users[0].Name != "acl-user" ||
		len(r[0].CommandGroups) != 1 || r[0].CommandGroups[0].Name != "danger" ||
		r[1].ID != jstr(t, f2, "id") || len(r[1].Users) != 0 || len(r[1].CommandGroups) != 1 || r[1].CommandGroups[0].Name != "reboots" {
		t.Fatalf("filters listed: %+v", r)
	}
	e.do("DELETE", "/api/v2/acls/command-filters/"+jstr(t, f2, "id")+"/", e.admin, nil).want(t, http.StatusNoContent)
	e.do("DELETE", "/api/v2/acls/command-groups/"+jstr(t, g2, "id")+"/", e.admin, nil).want(t, http.StatusNoContent)
	e.do("PATCH", "/api/v2/acls/command-filters/"+jstr(t, f, "id")+"/", e.admin, map[string]any{"is_active": false}).want(t, http.StatusOK)
	e.do("DELETE", "/api/v2/acls/command-groups/"+jstr(t, g, "id")+"/", e.admin, nil).want(t, http.StatusNoContent)
	got := e.do("GET", "/api/v2/acls/command-filters/"+jstr(t, f, "id")+"/", e.admin, nil).want(t, http.StatusOK).obj(t)
	if gs := got["command_groups"].([]any); len(gs) != 0 {
		t.Fatalf("deleted group still in the filter: %v", gs)
	}
	if got["is_active"] != false {
		t.Fatalf("the filter is still active after the PATCH: %v", got["is_active"])
	}
	logs := e.do("GET", "/api/v2/audits/operate-logs/?resource_type=command_filter", e.admin, nil).want(t, http.StatusOK).count(t)
	if logs != 4 { // no-danger created and changed, no-reboot created and deleted
		t.Fatalf("operate log rows for command filters: %d", logs)
	}
}
