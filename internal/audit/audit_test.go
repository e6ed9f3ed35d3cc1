package audit

import (
	"strings"
	"testing"
)

func TestDiffHidesSecrets(t *testing.T) {
	type su struct {
		Name     string `json:"name"`
		Password string `json:"password,omitempty"`
	}
	d, err := Diff(su{Name: "root", Password: "old-secret"}, su{Name: "admin", Password: "new-secret"}, []string{"password"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d, "secret") {
		t.Fatalf("diff leaks a secret: %s", d)
	}
	if !strings.Contains(d, `"name":{"new":"admin","old":"root"}`) || !strings.Contains(d, `"password":{"new":"******","old":"******"}`) {
		t.Fatalf("diff = %s", d)
	}
	same, _ := Diff(su{Name: "x"}, su{Name: "x"}, nil)
	if same != "{}" {
		t.Fatalf("unchanged record diff = %s", same)
	}
	created, _ := Diff(nil, su{Name: "x", Password: "p"}, []string{"password"})
	if created != `{"name":{"new":"x"},"password":{"new":"******"}}` {
		t.Fatalf("create diff = %s", created)
	}
}
