package cmdfilter

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

func newService(t *testing.T) *Service {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

var admin = audit.Actor{Username: "admin"}

func TestFirstMatchByPriorityDecides(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	danger, err := s.CreateGroup(ctx, admin, GroupFields{Name: ptr("danger"), Type: ptr(TypeCommand), Content: ptr("rm -rf /\nshutdown\nreboot")})
	if err != nil {
		t.Fatal(err)
	}
	touchy, err := s.CreateGroup(ctx, admin, GroupFields{Name: ptr("touchy"), Type: ptr(TypeRegex), Content: ptr(`^touch\s+/etc/`), IgnoreCase: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFilter(ctx, admin, FilterFields{Name: ptr("no-danger"), Priority: ptr(10), Action: ptr(Reject), CommandGroups: &[]string{danger.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFilter(ctx, admin, FilterFields{Name: ptr("warn-etc"), Priority: ptr(20), Action: ptr(Warn), CommandGroups: &[]string{touchy.ID, danger.ID}}); err != nil {
		t.Fatal(err)
	}
	sub := Subject{UserID: "u1", AssetID: "a1", SystemUserID: "s1"}
	for _, c := range []struct {
		line, action, rule string
	}{
		{"rm -rf /", Reject, "no-danger"},
		{"sudo rm -rf / --no-preserve-root", Reject, "no-danger"},
		{"echo hi; SHUTDOWN now", Reject, "no-danger"}, // command groups ignore case by default
		{"farm reboots", Accept, ""},                   // whole words only
		{"touch /etc/motd", Warn, "warn-etc"},
		{"TOUCH /etc/motd", Accept, ""}, // this regex group is case-sensitive
		{"ls -la", Accept, ""},
	} {
		v := s.Check(sub, c.line)
		if v.Action != c.action || v.Rule != c.rule {
			t.Errorf("Check(%q) = %+v, want %s by %q", c.line, v, c.action, c.rule)
		}
	}
	if v := s.Check(sub, "rm -rf /"); v.Risk != RiskReject || v.Group != "danger" {
		t.Errorf("reject verdict %+v", v)
	}
}

func TestScopeAndAcceptOverride(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	g, _ := s.CreateGroup(ctx, admin, GroupFields{Name: ptr("reboot"), Content: ptr("reboot")})
	// An accept rule with a better priority lets one user through.
	db := s.db
	var uid string
	err := db.Tx(ctx, func(tx *store.Tx) error {
		u := store.User{ID: "11111111-1111-4111-8111-111111111111", Username: "ops", Name: "ops", Role: "user", IsActive: true}
		uid = u.ID
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFilter(ctx, admin, FilterFields{Name: ptr("ops-may"), Priority: ptr(1), Action: ptr(Accept), Users: &[]string{uid}, CommandGroups: &[]string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.CreateFilter(ctx, admin, FilterFields{Name: ptr("nobody-else"), Priority: ptr(50), Action: ptr(Reject), CommandGroups: &[]string{g.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Check(Subject{UserID: uid}, "reboot"); v.Action != Accept || v.Rule != "ops-may" {
		t.Errorf("ops: %+v", v)
	}
	if v := s.Check(Subject{UserID: "someone"}, "reboot"); v.Action != Reject {
		t.Errorf("someone: %+v", v)
	}
	// Deactivating a rule applies to the next check.
	if _, err := s.UpdateFilter(ctx, admin, f.ID, FilterFields{IsActive: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if v := s.Check(Subject{UserID: "someone"}, "reboot"); v.Action != Accept {
		t.Errorf("after deactivation: %+v", v)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, f := range []GroupFields{
		{Name: ptr("bad-re"), Type: ptr(TypeRegex), Content: ptr("(unclosed")},
		{Name: ptr("bad-type"), Type: ptr("glob"), Content: ptr("x")},
		{Name: ptr("empty"), Content: ptr("\n  \n")},
		{Name: ptr(""), Content: ptr("x")},
	} {
		_, err := s.CreateGroup(ctx, admin, f)
		if e := fault.As(err); e == nil || e.Kind != fault.Invalid {
			t.Errorf("CreateGroup(%+v) = %v, want a 400", f, err)
		}
	}
	g, _ := s.CreateGroup(ctx, admin, GroupFields{Name: ptr("ok"), Content: ptr("x")})
	for _, f := range []FilterFields{
		{Name: ptr("p0"), Priority: ptr(0), CommandGroups: &[]string{g.ID}},
		{Name: ptr("act"), Action: ptr("drop"), CommandGroups: &[]string{g.ID}},
		{Name: ptr("nogroups")},
		{Name: ptr("missing"), CommandGroups: &[]string{"nope"}},
	} {
		_, err := s.CreateFilter(ctx, admin, f)
		if e := fault.As(err); e == nil || e.Kind != fault.Invalid {
			t.Errorf("CreateFilter(%+v) = %v, want a 400", f, err)
		}
	}
	if v := s.Check(Subject{}, "x"); v.Action != Accept {
		t.Errorf("refused filters took effect: %+v", v)
	}
}
