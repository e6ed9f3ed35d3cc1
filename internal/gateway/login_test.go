package gateway

import (
	"strings"
	"testing"
)

func TestParseLogin(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Login
		bad  bool
	}{
		{in: "alice", want: Login{User: "alice"}},
		{in: "alice@web-01", want: Login{User: "alice", Asset: "web-01"}},
		{in: "alice@root@web-01", want: Login{User: "alice", SystemUser: "root", Asset: "web-01"}},
		{in: "alice#root#web-01", want: Login{User: "alice", SystemUser: "root", Asset: "web-01"}},
		{in: "alice#web-01", want: Login{User: "alice", Asset: "web-01"}},
		{in: "alice#root#db@corp", want: Login{User: "alice", SystemUser: "root", Asset: "db@corp"}},
		{in: "alice@root@web@01", want: Login{User: "alice", SystemUser: "root", Asset: "web@01"}},
		{in: "", bad: true},
		{in: "@web", bad: true},
		{in: "alice@@web", bad: true},
		{in: "alice@", bad: true},
		{in: strings.Repeat("a", 600), bad: true},
	} {
		got, err := ParseLogin(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("ParseLogin(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func FuzzParseLogin(f *testing.F) {
	for _, s := range []string{"alice", "a@b", "a@b@c", "a#b#c", "a#b@c#d", "@", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLogin(s)
		if err != nil {
			return
		}
		if l.User == "" || strings.ContainsAny(l.User, "@#") {
			t.Fatalf("ParseLogin(%q) user %q", s, l.User)
		}
		if l.SystemUser != "" && l.Asset == "" {
			t.Fatalf("ParseLogin(%q) system user without asset", s)
		}
	})
}
