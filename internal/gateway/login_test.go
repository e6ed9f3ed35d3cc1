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

func TestLegacySCP(t *testing.T) {
	for cmd, want := range map[string]bool{
		"scp -t .":                    true,
		"scp -v -r -p -t -- /tmp/dir": true,
		"/usr/bin/scp -f -- file":     true,
		"scp -pf notes.txt":           true,
		"scp -F cfg a host:b":         false, // an outbound copy run on the target
		"scp -o Port=22 a host:/tmp":  false,
		"ls -t":                       false,
		"":                            false,
	} {
		if got := legacySCP(cmd); got != want {
			t.Errorf("legacySCP(%q) = %v, want %v", cmd, got, want)
		}
	}
}
