package store

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/query"
)

// Text search finds the same commands whichever way the database answers it
// (a trigram index for terms of three characters or more, a scan for
// shorter terms and terms with LIKE's wildcards), case-insensitively.
func TestCommandSearch(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		inputs := []string{"systemctl restart NGINX", "ls -la", "cat a_b.txt", "cat a%b.txt", "echo 你好世界", "tail -f /var/log/nginx/error.log"}
		var cs []Command
		for i, in := range inputs {
			cs = append(cs, Command{SessionID: sessionOf(1), UserID: "u-1", Username: "alice", AssetID: "a-1", Asset: "web-01",
				SystemUserID: "su-1", SystemUser: "root", Input: in, Action: "accept", Timestamp: t0.Add(time.Duration(i) * time.Second)})
		}
		if err := db.AddCommands(bg, cs); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			search string
			want   []string
		}{
			{"nginx", []string{"tail -f /var/log/nginx/error.log", "systemctl restart NGINX"}},
			{"RESTART ng", []string{"systemctl restart NGINX"}},
			{"ls", []string{"ls -la"}},
			{"a_b", []string{"cat a_b.txt"}},
			{"a%b", []string{"cat a%b.txt"}},
			{"你好世", []string{"echo 你好世界"}},
			{"absent", nil},
		} {
			q, err := query.Parse(CommandSchema, url.Values{"search": {c.search}})
			if err != nil {
				t.Fatal(err)
			}
			got, n, err := db.Commands(bg, q, "")
			if err != nil {
				t.Fatal(err)
			}
			var inputs []string
			for _, g := range got {
				inputs = append(inputs, g.Input)
			}
			if n != len(c.want) || !slices.Equal(inputs, c.want) {
				t.Errorf("search %q: %d %q, want %q", c.search, n, inputs, c.want)
			}
		}
	})
}
