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

// A view marks its secret fields itself: Record needs no list from the
// caller, and a pointer to the view works the same.
func TestDiffHidesTaggedSecrets(t *testing.T) {
	type su struct {
		Name string `json:"name"`
		Key  string `json:"private_key" audit:"secret"`
	}
	d, err := Diff(&su{Name: "a", Key: "KEY-ONE"}, su{Name: "a", Key: "KEY-TWO"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != `{"private_key":{"new":"******","old":"******"}}` {
		t.Fatalf("diff = %s", d)
	}
}
