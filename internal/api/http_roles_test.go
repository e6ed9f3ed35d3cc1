package api_test

import (
	"net/http"
	"testing"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

func TestHTTPRoles(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	usr := e.createUser("ursula", identity.RoleUser)
	aud := e.createUser("audrey", identity.RoleAuditor)
	tokens := map[string]string{"admin": e.admin, "auditor": aud.Token, "user": usr.Token}
	asset := `{"name":"role-probe","ip":"10.0.0.1"}`
	node := `{"name":"role-probe-node"}`
	perm := `{"name":"role-probe-perm","users":[],"actions":["connect"]}`

	const ok, denied = http.StatusOK, http.StatusForbidden
	cases := []struct {
		method, path, body string
		want               map[string]int // by role; missing roles get 403
	}{
		{"GET", "/api/v2/users/users/", "", map[string]int{"admin": ok}},
		{"POST", "/api/v2/users/users/", `{"username":"made-by-x","password":"long-enough-pw"}`, map[string]int{"admin": http.StatusCreated}},
		{"GET", "/api/v2/users/groups/", "", map[string]int{"admin": ok}},
		{"GET", "/api/v2/assets/assets/", "", map[string]int{"admin": ok}},
		{"POST", "/api/v2/assets/assets/", asset, map[string]int{"admin": http.StatusCreated}},
		{"GET", "/api/v2/assets/nodes/", "", map[string]int{"admin": ok}},
		{"POST", "/api/v2/assets/nodes/", node, map[string]int{"admin": http.StatusCreated}},
		{"GET", "/api/v2/assets/system-users/", "", map[string]int{"admin": ok}},
		{"POST", "/api/v2/assets/system-users/", `{"name":"su-x","username":"root"}`, map[string]int{"admin": http.StatusCreated}},
		{"GET", "/api/v2/perms/asset-permissions/", "", map[string]int{"admin": ok}},
		{"POST", "/api/v2/perms/asset-permissions/", perm, map[string]int{"admin": http.StatusCreated}},
		{"GET", "/api/v2/perms/asset-permissions/export/", "", map[string]int{"admin": ok, "auditor": ok}},
		{"GET", "/api/v2/audits/login-logs/", "", map[string]int{"admin": ok, "auditor": ok}},
		{"GET", "/api/v2/audits/operate-logs/", "", map[string]int{"admin": ok, "auditor": ok}},
		{"GET", "/api/v2/terminal/sessions/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
		{"GET", "/api/v2/users/profile/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
		{"GET", "/api/v2/perms/users/assets/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
		{"GET", "/api/v2/perms/users/nodes/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
		{"GET", "/api/v2/assets/platforms/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
		{"GET", "/api/v2/authentication/tokens/", "", map[string]int{"admin": ok, "auditor": ok, "user": ok}},
	}
	// Non-admins go first so that a wrongly admitted POST is caught
	// before the admin's own create of the same name.
	for _, role := range []string{"user", "auditor", "admin"} {
		for _, c := range cases {
			want, has := c.want[role]
			if !has {
				want = denied
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			r := e.do(c.method, c.path, tokens[role], body)
			if r.Status != want {
				t.Errorf("%s %s as %s: want %d, got %s", c.method, c.path, role, want, r)
				continue
			}
			if want == denied {
				if m := r.obj(t); m["code"] != "permission_denied" || m["detail"] == "" {
					t.Errorf("%s %s as %s: 403 body %s", c.method, c.path, role, r)
				}
			}
		}
	}
	// The denied POSTs created nothing: only the admin's own creates exist.
	if n := e.assetCount(); n != 1 {
		t.Errorf("assets after the role probes: %d, want 1 (the admin's)", n)
	}
	if n := e.do("GET", "/api/v2/users/users/?username=made-by-x", e.admin, nil).want(t, ok).count(t); n != 1 {
		t.Errorf("users named made-by-x: %d", n)
	}

	// Each role's profile is their own.
	for role, tok := range tokens {
		p := e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, ok).obj(t)
		if p["role"] != role {
			t.Errorf("profile of the %s token says role %v", role, p["role"])
		}
		if _, has := p["password"]; has {
			t.Errorf("profile shows a password field: %v", p)
		}
	}
	// Anyone may change their own profile, but not their role.
	e.do("PATCH", "/api/v2/users/profile/", usr.Token, map[string]any{"name": "Ursula U."}).want(t, ok)
	e.do("PATCH", "/api/v2/users/profile/", usr.Token, map[string]any{"role": "admin"}).want(t, http.StatusBadRequest)
	if p := e.do("GET", "/api/v2/users/profile/", usr.Token, nil).want(t, ok).obj(t); p["name"] != "Ursula U." || p["role"] != "user" {
		t.Errorf("profile after self-service changes: %v", p)
	}

	// Another user's permission view is the admin's only.
	for _, c := range []struct{ tok, path string }{
		{usr.Token, "/api/v2/perms/users/assets/?user=" + aud.ID},
		{usr.Token, "/api/v2/perms/users/nodes/?user=" + aud.ID},
		{aud.Token, "/api/v2/perms/users/assets/?user=" + usr.ID},
		{aud.Token, "/api/v2/perms/users/nodes/?user=" + usr.ID},
		{usr.Token, "/api/v2/authentication/tokens/?user=" + aud.ID},
	} {
		if r := e.do("GET", c.path, c.tok, nil); r.Status != denied {
			t.Errorf("GET %s as non-admin: want 403, got %s", c.path, r)
		}
	}
	e.do("GET", "/api/v2/perms/users/assets/?user="+usr.ID, usr.Token, nil).want(t, ok)
	e.do("GET", "/api/v2/perms/users/assets/?user="+usr.ID, e.admin, nil).want(t, ok)

	// Role changes take effect on the next request with the same token.
	e.do("GET", "/api/v2/users/users/"+usr.ID+"/", usr.Token, nil).want(t, denied)
	e.do("DELETE", "/api/v2/users/users/"+aud.ID+"/", usr.Token, nil).want(t, denied)
	e.do("POST", "/api/v2/users/users/"+aud.ID+"/unlock/", aud.Token, nil).want(t, denied)
	e.do("PATCH", "/api/v2/users/users/"+usr.ID+"/", e.admin, map[string]any{"role": "auditor"}).want(t, ok)
	e.do("GET", "/api/v2/audits/login-logs/", usr.Token, nil).want(t, ok)
	e.do("POST", "/api/v2/assets/assets/", usr.Token, `{"name":"still-no","ip":"10.0.0.2"}`).want(t, denied)
	// An admin cannot delete themselves (the last admin).
	e.do("DELETE", "/api/v2/users/users/"+e.adminID(t)+"/", e.admin, nil).want(t, http.StatusConflict)
}

// adminID is the bootstrapped admin's user id.
func (e *httpEnv) adminID(t testing.TB) string {
	t.Helper()
	return jstr(t, e.do("GET", "/api/v2/users/profile/", e.admin, nil).want(t, http.StatusOK).obj(t), "id")
}
