package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedStep runs one function of testdata/seed-guide.sh with curl and
// returns what curl printed and the HTTP status it saw.
func seedStep(t *testing.T, dir, fn string, env ...string) (string, int) {
	t.Helper()
	script, err := filepath.Abs("testdata/seed-guide.sh")
	if err != nil {
		t.Fatal(err)
	}
	// curl's --write-out is added through its config-file variable so the
	// guide's command line itself stays exactly as written.
	rc := "silent\nshow-error\nwrite-out = \"\\n%{http_code}\"\n"
	if err := os.WriteFile(filepath.Join(dir, ".curlrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", ". "+script+" && "+fn)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, "CURL_HOME="+dir, "HOME="+dir)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: curl failed: %v\n%s", fn, err, out)
	}
	text := strings.TrimRight(string(out), "\n")
	i := strings.LastIndex(text, "\n")
	var code int
	if _, err := fmt.Sscan(text[i+1:], &code); err != nil {
		t.Fatalf("%s: no status in %q", fn, text)
	}
	return text[:max(i, 0)], code
}

// TestSeedGuide runs every curl example of the API guide Postern answers
// to against a fresh `postern serve`, as the guide writes them.
func TestSeedGuide(t *testing.T) {
	requireTool(t, "curl")
	requireTool(t, "bash")
	s := startServer(t, "", "POSTERN_ADMIN_PASSWORD=your_password")
	t.Logf("postern serve ready in %v on an empty data dir", s.ready)
	dir := t.TempDir()
	env := []string{"POSTERN=" + s.url}

	body, code := seedStep(t, dir, "token", env...)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("token: %d %s", code, body)
	}
	var tok struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token answer %q: %v", body, err)
	}
	exp, err := time.Parse(time.RFC3339, tok.ExpiresAt)
	if err != nil || time.Until(exp) < 29*24*time.Hour || time.Until(exp) > 31*24*time.Hour {
		t.Fatalf("expires_at %q is not about 30 days ahead", tok.ExpiresAt)
	}
	env = append(env, "TOKEN="+tok.Token)

	body, code = seedStep(t, dir, "bulk_assets", env...)
	if code != http.StatusCreated {
		t.Fatalf("bulk assets: %d %s", code, body)
	}
	var assets []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Platform struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"platform"`
	}
	if err := json.Unmarshal([]byte(body), &assets); err != nil || len(assets) != 2 {
		t.Fatalf("bulk answer %q: %v", body, err)
	}
	if assets[0].Platform.Name != "Linux" || assets[1].Platform.Name != "MySQL" {
		t.Fatalf("platforms 2 and 3 should be Linux and MySQL: %+v", assets)
	}

	// The permission example names users and a system user; make real ones.
	u1 := mustCreate(t, s, tok.Token, "/api/v2/users/users/", map[string]any{"username": "dev1", "password": "dev1-password"})
	u2 := mustCreate(t, s, tok.Token, "/api/v2/users/users/", map[string]any{"username": "dev2", "password": "dev2-password"})
	su := mustCreate(t, s, tok.Token, "/api/v2/assets/system-users/", map[string]any{"name": "web", "username": "deploy", "password": "s3cret-deploy"})
	env = append(env, "USER1="+u1, "USER2="+u2, "ASSET1="+assets[0].ID, "ASSET2="+assets[1].ID, "SYSUSER="+su)
	body, code = seedStep(t, dir, "permission", env...)
	if code != http.StatusCreated {
		t.Fatalf("permission: %d %s", code, body)
	}
	if !strings.Contains(body, "开发团队-Web服务器访问权限") {
		t.Fatalf("permission name not kept: %s", body)
	}
	// The grant is visible to dev1 on the very next request.
	dev1 := s.token(t, "dev1", "dev1-password")
	code, m := s.call(t, "GET", "/api/v2/perms/users/assets/", dev1, nil)
	if code != 200 || m["count"].(float64) != 2 {
		t.Fatalf("dev1's assets after the grant: %d %v", code, m)
	}

	body, code = seedStep(t, dir, "sessions", env...)
	if code != 200 || !strings.Contains(body, `"count":0`) || !strings.Contains(body, `"results":[]`) {
		t.Fatalf("sessions: %d %s", code, body)
	}

	_, code = seedStep(t, dir, "export_permissions", env...)
	if code != 200 {
		t.Fatalf("export: %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "permission_audit_*.json"))
	if len(files) != 1 {
		t.Fatalf("export wrote %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	var exported []map[string]any
	if err := json.Unmarshal(raw, &exported); err != nil || len(exported) != 1 || exported[0]["name"] != "开发团队-Web服务器访问权限" {
		t.Fatalf("exported file %s: %v", raw, err)
	}

	body, code = seedStep(t, dir, "asset_ids", env...)
	var page struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil || page.Count != 2 {
		t.Fatalf("asset ids: %d %s", code, body)
	}
	for _, r := range page.Results {
		if len(r) != 2 || r["id"] == nil || r["name"] == nil {
			t.Fatalf("?fields=id,name returned %v", r)
		}
	}

	body, code = seedStep(t, dir, "platforms", env...)
	if code != 200 || !strings.Contains(body, `"id":2,"name":"Linux"`) || !strings.Contains(body, `"id":3,"name":"MySQL"`) {
		t.Fatalf("platforms: %d %s", code, body)
	}

	body, code = seedStep(t, dir, "docs", env...)
	if code != 200 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("docs: %d %.200s", code, body)
	}
}

func mustCreate(t *testing.T, s *server, token, path string, body map[string]any) string {
	t.Helper()
	code, m := s.call(t, "POST", path, token, body)
	if code != http.StatusCreated {
		t.Fatalf("POST %s: %d %v", path, code, m)
	}
	return m["id"].(string)
}
