package api_test

import (
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
	if logs != 2 {
		t.Fatalf("operate log rows for command filters: %d", logs)
	}
}
