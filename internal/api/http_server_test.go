package api_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/identity"
)

func checkThrottled(t *testing.T, r *hresp) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("want 429, got %s", r)
	}
	ra := r.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 {
		t.Errorf("Retry-After %q: want whole seconds >= 1", ra)
	}
	if m := r.obj(t); m["code"] != "throttled" || m["detail"] == "" {
		t.Errorf("429 body: %s", r)
	}
}

func TestHTTPRateLimitPerUser(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{RatePerUser: 1, BurstPerUser: 3, RatePerIP: 10000, BurstPerIP: 10000})
	// The admin spends one request of its burst here.
	u := e.createUser("busy", identity.RoleUser)
	for i := 1; i <= 3; i++ {
		e.do("GET", "/api/v2/users/profile/", u.Token, nil).want(t, http.StatusOK)
	}
	checkThrottled(t, e.do("GET", "/api/v2/users/profile/", u.Token, nil))
	// The limit is per principal: the admin still has two of its three.
	e.do("GET", "/api/v2/users/profile/", e.admin, nil).want(t, http.StatusOK)
	// A second token of the same user shares the user's bucket.
	tok2 := e.login("busy", httpUserPassword)
	checkThrottled(t, e.do("GET", "/api/v2/users/profile/", tok2, nil))
}

func TestHTTPRateLimitPerIP(t *testing.T) {
	t.Parallel()
	e := openHTTPEnv(t, identity.Config{}, api.Config{RatePerIP: 0.01, BurstPerIP: 2})
	for i := 0; i < 2; i++ {
		e.do("POST", "/api/v2/authentication/token/", "", map[string]string{"username": "admin"}).want(t, http.StatusBadRequest)
	}
	r := e.tokenFor("admin", httpAdminPassword, "")
	checkThrottled(t, r)
	if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); secs < 50 {
		t.Errorf("at 0.01 requests/s the next token is ~100 s away; Retry-After says %d", secs)
	}
	if _, has := r.obj(t)["token"]; has {
		t.Fatal("a throttled token request issued a token")
	}
	// The address limit covers every route, authenticated or not.
	checkThrottled(t, e.do("GET", "/api/health/", "", nil))
}

func TestHTTPRouting(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	a := e.do("GET", "/api/v2/assets/platforms", e.admin, nil).want(t, http.StatusOK)
	b := e.do("GET", "/api/v2/assets/platforms/", e.admin, nil).want(t, http.StatusOK)
	if a.count(t) != b.count(t) || a.count(t) < 3 {
		t.Fatalf("with and without the slash: %d vs %d platforms", a.count(t), b.count(t))
	}
	// Without the slash on a POST as well.
	r := e.do("POST", "/api/v2/authentication/token", "", map[string]string{"username": "admin", "password": httpAdminPassword}).want(t, http.StatusCreated)
	if r.obj(t)["token"] == nil {
		t.Fatalf("token without slash: %s", r)
	}

	// Accept with a version parameter, as JumpServer clients send it.
	for _, path := range []string{"/api/v2/assets/platforms/", "/api/v2/users/profile/"} {
		r := e.req("GET", path, e.admin, nil, "Accept: application/json;version=2.0").want(t, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s Content-Type %q", path, ct)
		}
	}
	e.req("POST", "/api/v2/assets/assets/", e.admin, `{"name":"versioned","ip":"10.0.0.1"}`, "Accept: application/json;version=2.0").want(t, http.StatusCreated)

	for _, path := range []string{"/api/v2/nope/", "/api/v2/assets/assetz/", "/api/v3/assets/assets/", "/api/v2/"} {
		r := e.do("GET", path, e.admin, nil).want(t, http.StatusNotFound)
		if m := r.obj(t); m["code"] != "not_found" || m["detail"] == "" {
			t.Errorf("GET %s: want a JSON 404, got %s", path, r)
		}
	}
	// Unknown paths are 404 before authentication: no 401 probing needed.
	e.do("GET", "/api/v2/nope/", "", nil).want(t, http.StatusNotFound)

	if got := e.do("GET", "/api/v2/assets/platforms/", e.admin, nil).Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
}

// TestHTTPWrongMethod: a known path with a method it does not serve.
func TestHTTPWrongMethod(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	r := e.do("DELETE", "/api/v2/assets/platforms/", e.admin, nil)
	if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE platforms: %s", r)
	}
	if m := r.obj(t); m["code"] == nil {
		t.Fatalf("wrong method: want a JSON error, got %s", r)
	}
	if r.Status == http.StatusNotFound {
		t.Fatal("api.go ServeHTTP answers a wrong method on a known path (DELETE /api/v2/assets/platforms/) with 404 \"no such API endpoint\" instead of 405 with an Allow header, though its comment says it distinguishes the two")
	}
	if r.Header.Get("Allow") == "" {
		t.Errorf("405 without Allow header")
	}
}

func TestHTTPHealthAndMetrics(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, api.Config{})
	h := e.do("GET", "/api/health/", "", nil).want(t, http.StatusOK).obj(t)
	if h["status"] != "ok" || h["database"] != "ok" || h["version"] != "test" {
		t.Fatalf("health: %v", h)
	}
	e.do("GET", "/api/health", "", nil).want(t, http.StatusOK)

	e.do("GET", "/api/v2/assets/platforms/", e.admin, nil).want(t, http.StatusOK)
	e.do("GET", "/api/v2/assets/platforms/", "", nil).want(t, http.StatusUnauthorized)
	m := e.do("GET", "/metrics", "", nil).want(t, http.StatusOK)
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics Content-Type %q", ct)
	}
	text := string(m.Raw)
	for _, want := range []string{
		"# TYPE postern_http_requests_total counter",
		`postern_http_requests_total{route="GET /api/v2/assets/platforms/",status="200"} 1`,
		`postern_http_requests_total{route="GET /api/v2/assets/platforms/",status="401"} 1`,
		`postern_http_requests_total{route="POST /api/v2/authentication/token/",status="201"} 1`,
		"postern_http_request_duration_seconds_bucket",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	// The process's own gauges, for watching a gateway's footprint.
	for _, name := range []string{"postern_goroutines", "postern_heap_bytes", "postern_stack_bytes", "postern_memory_bytes", "postern_gc_cycles_total"} {
		if !regexp.MustCompile(`(?m)^` + name + ` [0-9]+$`).MatchString(text) {
			t.Errorf("metrics lack %s:\n%s", name, text)
		}
	}
	// Series are per route, not per raw path: ids do not make new series.
	e.do("GET", "/api/v2/assets/platforms/2/", e.admin, nil).want(t, http.StatusOK)
	e.do("GET", "/api/v2/assets/platforms/3/", e.admin, nil).want(t, http.StatusOK)
	text = string(e.do("GET", "/metrics", "", nil).want(t, http.StatusOK).Raw)
	if strings.Contains(text, "platforms/3") {
		t.Errorf("a raw id appears in a metric label:\n%s", text)
	}
	if !strings.Contains(text, `route="GET /api/v2/assets/platforms/{id}/",status="200"}`) {
		t.Errorf("no series for the {id} route:\n%s", text)
	}
}

func TestHTTPClientAddress(t *testing.T) {
	t.Parallel()
	lastIP := func(e *httpEnv) string {
		t.Helper()
		rows := e.do("GET", "/api/v2/audits/login-logs/?order=-id&limit=1", e.admin, nil).want(t, http.StatusOK).results(t)
		if len(rows) != 1 {
			t.Fatal("no login log")
		}
		return jstr(t, rows[0], "ip")
	}
	// Without TrustProxy a client cannot choose its logged address.
	e := newHTTPEnv(t, api.Config{})
	e.req("POST", "/api/v2/authentication/token/", "", map[string]string{"username": "admin", "password": "wrong-password-1"},
		"X-Forwarded-For: 203.0.113.9").want(t, http.StatusUnauthorized)
	if ip := lastIP(e); ip != "127.0.0.1" {
		t.Errorf("untrusted X-Forwarded-For was logged as the address: %q", ip)
	}
	// Behind a trusted proxy the first forwarded address is the client.
	p := newHTTPEnv(t, api.Config{TrustProxy: true})
	p.req("POST", "/api/v2/authentication/token/", "", map[string]string{"username": "admin", "password": "wrong-password-1"},
		"X-Forwarded-For: 203.0.113.9, 10.0.0.1").want(t, http.StatusUnauthorized)
	if ip := lastIP(p); ip != "203.0.113.9" {
		t.Errorf("trusted X-Forwarded-For: logged %q", ip)
	}
}
