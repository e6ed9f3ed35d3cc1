package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

func TestHTTPTokenIssue(t *testing.T) {
	t.Parallel()
	e := openHTTPEnv(t, identity.Config{}, api.Config{})
	before := time.Now()
	r := e.tokenFor("admin", httpAdminPassword, "").want(t, http.StatusCreated)
	m := r.obj(t)
	tok := jstr(t, m, "token")
	if len(tok) < 20 {
		t.Fatalf("token %q is too short to be a secret", tok)
	}
	exp, err := time.Parse(time.RFC3339, jstr(t, m, "expires_at"))
	if err != nil {
		t.Fatalf("expires_at: %v", err)
	}
	want := before.Add(30 * 24 * time.Hour)
	if d := exp.Sub(want); d < -time.Minute || d > time.Minute {
		t.Fatalf("expires_at %v, want about %v (30 days ahead)", exp, want)
	}
	// The token works, and a second login gives a different token.
	prof := e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, http.StatusOK).obj(t)
	if prof["username"] != "admin" || prof["role"] != "admin" {
		t.Fatalf("profile with new token: %v", prof)
	}
	if tok2 := e.login("admin", httpAdminPassword); tok2 == tok {
		t.Fatal("two logins returned the same token")
	}
}

func TestHTTPTokenBadCredentials(t *testing.T) {
	t.Parallel()
	e := openHTTPEnv(t, identity.Config{}, api.Config{})
	wrong := e.tokenFor("admin", "not-the-password", "").want(t, http.StatusUnauthorized)
	unknown := e.tokenFor("nobody-here", "not-the-password", "").want(t, http.StatusUnauthorized)
	for _, r := range []*hresp{wrong, unknown} {
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a Bearer WWW-Authenticate header: %v", r.Header)
		}
		m := r.obj(t)
		if m["code"] == "" || m["code"] == nil || m["detail"] == "" || m["detail"] == nil {
			t.Errorf("error body lacks code/detail: %s", r)
		}
		if _, has := m["token"]; has {
			t.Errorf("failed login returned a token: %s", r)
		}
	}
	wm, um := wrong.obj(t), unknown.obj(t)
	if wm["code"] != um["code"] || wm["detail"] != um["detail"] {
		t.Fatalf("wrong password and unknown user answer differently, revealing which users exist:\n%s\n%s", wrong, unknown)
	}
	for _, m := range []map[string]any{wm, um} {
		d := strings.ToLower(m["detail"].(string))
		if strings.Contains(d, "no such") || strings.Contains(d, "not exist") || strings.Contains(d, "unknown user") {
			t.Fatalf("detail says whether the user exists: %q", d)
		}
	}
	// Missing fields are a 400, not a login attempt.
	e.do("POST", "/api/v2/authentication/token/", "", map[string]string{"username": "admin"}).want(t, http.StatusBadRequest)
}

func TestHTTPBearerRequired(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	cases := []struct{ name, auth string }{
		{"none", ""},
		{"garbage token", "Bearer not-a-token"},
		{"unknown token", "Bearer pst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"wrong scheme", "Basic " + e.admin},
		{"scheme only", "Bearer"},
		{"token with a char changed", "Bearer " + e.admin[:len(e.admin)-1] + flipLastChar(e.admin[len(e.admin)-1])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.auth != "" {
				hdr = append(hdr, "Authorization: "+c.auth)
			}
			r := e.req("GET", "/api/v2/users/profile/", "", nil, hdr...).want(t, http.StatusUnauthorized)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if m := r.obj(t); m["code"] == nil || m["detail"] == nil {
				t.Errorf("401 body lacks code/detail: %s", r)
			}
		})
	}
	// The "Token" scheme of JumpServer clients works like Bearer.
	e.req("GET", "/api/v2/users/profile/", "", nil, "Authorization: Token "+e.admin).want(t, http.StatusOK)
}

func flipLastChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestHTTPDisabledUserTokenStops(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("dora", identity.RoleUser)
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusOK)

	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"is_active": false}).want(t, http.StatusOK)
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusUnauthorized)
	// A disabled user cannot get a new token, and is told the same as for a wrong password.
	r := e.tokenFor("dora", httpUserPassword, "").want(t, http.StatusUnauthorized)
	w := e.tokenFor("dora", "wrong-password-x", "").want(t, http.StatusUnauthorized)
	if r.obj(t)["detail"] != w.obj(t)["detail"] {
		t.Errorf("disabled user's answer differs from a wrong password's: %s vs %s", r, w)
	}
	// Enabling again does not bring the old token back.
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"is_active": true}).want(t, http.StatusOK)
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusUnauthorized)
	tok := e.login("dora", httpUserPassword)

	// An expiry date in the past cuts off tokens and logins the same way.
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"date_expired": "2020-01-01"}).want(t, http.StatusOK)
	e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, http.StatusUnauthorized)
	e.tokenFor("dora", httpUserPassword, "").want(t, http.StatusUnauthorized)
	// An empty string clears the date.
	r = e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"date_expired": ""}).want(t, http.StatusOK)
	if r.obj(t)["date_expired"] != nil {
		t.Fatalf("date_expired \"\" should clear the date: %s", r)
	}
	tok = e.login("dora", httpUserPassword)
	e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, http.StatusOK)
}

// TestHTTPNullClearsDate: wire.go documents null as clearing an optional
// time, which is how JSON clients clear a field.
func TestHTTPNullClearsDate(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("nully", identity.RoleUser)
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"date_expired": "2020-01-01"}).want(t, http.StatusOK)
	r := e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"date_expired": nil}).want(t, http.StatusOK)
	if r.obj(t)["date_expired"] != nil {
		t.Fatal("{\"date_expired\": null} does not clear the date (users.go UserIn / perms.go PermissionIn use *Time, and encoding/json sets a *Time to nil on null without calling Time.UnmarshalJSON, so null reads as \"not given\"); got " + r.String())
	}
	e.login("nully", httpUserPassword)
}

func TestHTTPPasswordChangeRevokesTokens(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("pat", identity.RoleUser)
	second := e.login("pat", httpUserPassword)

	r := e.do("POST", "/api/v2/users/profile/password/", u.Token, map[string]string{
		"old_password": "not-my-password", "new_password": "brand-new-Passw0rd"}).want(t, http.StatusBadRequest)
	if r.obj(t)["field"] != "old_password" {
		t.Errorf("wrong old password: want field old_password, got %s", r)
	}
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusOK) // a refused change revokes nothing

	e.do("POST", "/api/v2/users/profile/password/", u.Token, map[string]string{
		"old_password": httpUserPassword, "new_password": "brand-new-Passw0rd"}).want(t, http.StatusNoContent)
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusUnauthorized)
	e.do("GET", "/api/v2/users/profile/", second, nil).want(t, http.StatusUnauthorized)
	e.tokenFor("pat", httpUserPassword, "").want(t, http.StatusUnauthorized)
	tok := e.login("pat", "brand-new-Passw0rd")
	e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, http.StatusOK)

	// An admin resetting the password also revokes.
	e.do("PATCH", "/api/v2/users/users/"+u.ID+"/", e.admin, map[string]any{"password": "admin-set-Passw0rd"}).want(t, http.StatusOK)
	e.do("GET", "/api/v2/users/profile/", tok, nil).want(t, http.StatusUnauthorized)
}

func TestHTTPTokenListAndRevoke(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	a := e.createUser("amy", identity.RoleUser)
	b := e.createUser("ben", identity.RoleUser)
	a2 := e.login("amy", httpUserPassword)

	r := e.do("GET", "/api/v2/authentication/tokens/", a.Token, nil).want(t, http.StatusOK)
	list := r.results(t)
	if r.count(t) != 2 || len(list) != 2 {
		t.Fatalf("amy has 2 tokens, list shows: %s", r)
	}
	for _, tk := range list {
		if tk["user"] != a.ID {
			t.Errorf("amy's list shows a token of %v", tk["user"])
		}
	}
	if strings.Contains(string(r.Raw), a.Token) || strings.Contains(string(r.Raw), a2) || strings.Contains(string(r.Raw), b.Token) {
		t.Fatal("token list reveals a token secret")
	}
	// Another user's tokens are not listed, and asking for them is refused.
	e.do("GET", "/api/v2/authentication/tokens/?user="+b.ID, a.Token, nil).want(t, http.StatusForbidden)

	// Find the id of amy's first token: the one that is not a2 (revoke via a2).
	bl := e.do("GET", "/api/v2/authentication/tokens/", b.Token, nil).want(t, http.StatusOK).results(t)
	if len(bl) != 1 {
		t.Fatalf("ben has one token, list shows %d", len(bl))
	}
	benTokenID := jstr(t, bl[0], "id")

	// amy cannot revoke ben's token: 404, and it keeps working.
	e.do("DELETE", "/api/v2/authentication/tokens/"+benTokenID+"/", a.Token, nil).want(t, http.StatusNotFound)
	e.do("GET", "/api/v2/users/profile/", b.Token, nil).want(t, http.StatusOK)

	// amy revokes each of her tokens in turn, using the other one.
	ids := pluck(list, "id")
	e.do("DELETE", "/api/v2/authentication/tokens/"+ids[0]+"/", a.Token, nil).want(t, http.StatusNoContent)
	ok := 0
	for _, tok := range []string{a.Token, a2} {
		if e.do("GET", "/api/v2/users/profile/", tok, nil).Status == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("after revoking one of two tokens, %d still work", ok)
	}
	live := a.Token
	if e.do("GET", "/api/v2/users/profile/", live, nil).Status != http.StatusOK {
		live = a2
	}
	rest := e.do("GET", "/api/v2/authentication/tokens/", live, nil).want(t, http.StatusOK)
	if rest.count(t) != 1 || rest.results(t)[0]["id"] != ids[1] {
		t.Fatalf("after revoking, amy's list: %s", rest)
	}
	e.do("DELETE", "/api/v2/authentication/tokens/"+ids[1]+"/", live, nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v2/users/profile/", live, nil).want(t, http.StatusUnauthorized)

	// An admin may revoke anyone's token.
	e.do("DELETE", "/api/v2/authentication/tokens/"+benTokenID+"/", e.admin, nil).want(t, http.StatusNoContent)
	e.do("GET", "/api/v2/users/profile/", b.Token, nil).want(t, http.StatusUnauthorized)
}

func TestHTTPLockout(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("locky", identity.RoleUser)
	for i := 1; i <= 7; i++ {
		r := e.tokenFor("locky", "wrong-guess-"+string(rune('a'+i)), "").want(t, http.StatusUnauthorized)
		if r.obj(t)["code"] == "account_locked" {
			t.Fatalf("attempt %d already answered account_locked", i)
		}
	}
	r := e.tokenFor("locky", httpUserPassword, "").want(t, http.StatusForbidden)
	if r.obj(t)["code"] != "account_locked" {
		t.Fatalf("8th attempt with the right password: want code account_locked, got %s", r)
	}
	// A locked user's existing token is refused too, and the admin sees the lock.
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusUnauthorized)
	if got := e.do("GET", "/api/v2/users/users/"+u.ID+"/", e.admin, nil).want(t, http.StatusOK).obj(t)["is_locked"]; got != true {
		t.Fatalf("is_locked = %v while locked", got)
	}

	// Only an admin may unlock.
	other := e.createUser("other", identity.RoleUser)
	e.do("POST", "/api/v2/users/users/"+u.ID+"/unlock/", other.Token, nil).want(t, http.StatusForbidden)
	e.tokenFor("locky", httpUserPassword, "").want(t, http.StatusForbidden)

	e.do("POST", "/api/v2/users/users/"+u.ID+"/unlock/", e.admin, nil).want(t, http.StatusNoContent)
	e.login("locky", httpUserPassword)
	e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusOK)
	if got := e.do("GET", "/api/v2/users/users/"+u.ID+"/", e.admin, nil).want(t, http.StatusOK).obj(t)["is_locked"]; got != false {
		t.Fatalf("is_locked = %v after unlock", got)
	}

	logs := e.do("GET", "/api/v2/audits/login-logs/?username=locky&order=id", e.admin, nil).want(t, http.StatusOK)
	rows := logs.results(t)
	// createUser's login, 7 wrong, 2 refused while locked, 1 good after the unlock.
	if len(rows) != 11 || logs.count(t) != 11 {
		t.Fatalf("want 11 login-log rows for locky, got %d: %s", len(rows), logs)
	}
	for i, row := range rows {
		if row["username"] != "locky" || row["ip"] != "127.0.0.1" || row["type"] != "api" {
			t.Errorf("row %d: %v", i, row)
		}
	}
	if rows[0]["status"] != true || rows[10]["status"] != true {
		t.Errorf("first and last attempts succeeded; rows say %v and %v", rows[0]["status"], rows[10]["status"])
	}
	for i := 1; i <= 9; i++ {
		row := rows[i]
		reason, _ := row["reason"].(string)
		if row["status"] != false || reason == "" {
			t.Errorf("failed attempt %d: status %v reason %q", i, row["status"], reason)
		}
		switch {
		case i <= 6 && reason != "wrong password":
			t.Errorf("attempt %d: reason %q, want wrong password", i, reason)
		case i == 7 && !strings.Contains(reason, "locked"):
			t.Errorf("locking attempt: reason %q should say the account was locked", reason)
		case i >= 8 && reason != "account locked":
			t.Errorf("attempt %d while locked: reason %q", i, reason)
		}
	}
	// The filter really filters.
	if n := e.do("GET", "/api/v2/audits/login-logs/?username=admin", e.admin, nil).want(t, http.StatusOK).count(t); n != 1 {
		t.Errorf("admin logged in once; login-logs?username=admin counts %d", n)
	}
}

func TestHTTPMFA(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("mfa-user", identity.RoleUser)

	r := e.do("POST", "/api/v2/users/profile/mfa/", u.Token, nil).want(t, http.StatusOK)
	m := r.obj(t)
	secret := jstr(t, m, "secret")
	if uri := jstr(t, m, "otpauth_uri"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("otpauth_uri %q does not carry the secret", uri)
	}
	// Not yet enforced before confirmation.
	e.login("mfa-user", httpUserPassword)

	bad := wrongCode(t, secret)
	e.do("POST", "/api/v2/users/profile/mfa/confirm/", u.Token, map[string]string{"otp": bad}).want(t, http.StatusBadRequest)
	e.login("mfa-user", httpUserPassword) // a failed confirmation does not enable MFA

	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v2/users/profile/mfa/confirm/", u.Token, map[string]string{"otp": code}).want(t, http.StatusNoContent)
	if prof := e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusOK).obj(t); prof["mfa_enabled"] != true {
		t.Fatalf("mfa_enabled = %v after confirmation", prof["mfa_enabled"])
	}

	miss := e.tokenFor("mfa-user", httpUserPassword, "").want(t, http.StatusUnauthorized)
	if miss.obj(t)["code"] != "mfa_required" {
		t.Fatalf("login without otp: want code mfa_required, got %s", miss)
	}
	wrong := e.tokenFor("mfa-user", httpUserPassword, bad).want(t, http.StatusUnauthorized)
	if c := wrong.obj(t)["code"]; c == "mfa_required" || c == nil {
		t.Fatalf("login with a wrong otp: got %s", wrong)
	}
	// A right code with a wrong password is still refused. The code of the
	// next time step is used: the confirmation spent this step's code.
	code, _ = identity.TOTPCode(secret, time.Now().Add(30*time.Second))
	e.tokenFor("mfa-user", "wrong-password-x", code).want(t, http.StatusUnauthorized)
	good := e.tokenFor("mfa-user", httpUserPassword, code).want(t, http.StatusCreated)
	e.do("GET", "/api/v2/users/profile/", jstr(t, good.obj(t), "token"), nil).want(t, http.StatusOK)

	logs := e.do("GET", "/api/v2/audits/login-logs/?username=mfa-user&status=true&order=-id&limit=1", e.admin, nil).want(t, http.StatusOK).results(t)
	if len(logs) != 1 || logs[0]["mfa"] != true {
		t.Errorf("the successful MFA login should be logged with mfa=true: %v", logs)
	}

	// Enrolling again is refused; an admin reset turns MFA off.
	e.do("POST", "/api/v2/users/profile/mfa/", u.Token, nil).want(t, http.StatusConflict)
	e.do("POST", "/api/v2/users/users/"+u.ID+"/mfa/reset/", e.admin, nil).want(t, http.StatusNoContent)
	e.login("mfa-user", httpUserPassword)
}

// TestHTTPMFACodeReplay: a one-time code that has let someone in must
// not let anyone in again (RFC 6238 section 5.2).
func TestHTTPMFACodeReplay(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	u := e.createUser("replay", identity.RoleUser)
	secret := jstr(t, e.do("POST", "/api/v2/users/profile/mfa/", u.Token, nil).want(t, http.StatusOK).obj(t), "secret")
	code, _ := identity.TOTPCode(secret, time.Now())
	e.do("POST", "/api/v2/users/profile/mfa/confirm/", u.Token, map[string]string{"otp": code}).want(t, http.StatusNoContent)
	// The code of the next step is valid now (one step of skew) and is
	// not the one the confirmation used.
	next, _ := identity.TOTPCode(secret, time.Now().Add(30*time.Second))
	if next == code {
		t.Skip("two steps share a code; rerun")
	}
	e.tokenFor("replay", httpUserPassword, next).want(t, http.StatusCreated)
	if r := e.tokenFor("replay", httpUserPassword, next); r.Status == http.StatusCreated {
		t.Fatal("identity.checkOTP accepts the same TOTP code twice (VerifyTOTP's matched step is ignored); replayed code got " + r.String())
	}
}

// wrongCode returns a six-digit code valid in no step near now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for d := -3; d <= 3; d++ {
		c, err := identity.TOTPCode(secret, time.Now().Add(time.Duration(d)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		valid[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555", "666666", "777777", "888888"} {
		if !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}
