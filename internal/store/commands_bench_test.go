package store

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/query"
)

// BenchmarkCommandsMillion lists the command audit as an auditor does, over
// a million rows: the newest page, by user, by risk, by time range, and a
// text search for a rare and a common word (count and first page each).
//
//	go test -run XXX -bench CommandsMillion -benchtime 20x ./internal/store/
func BenchmarkCommandsMillion(b *testing.B) {
	const rows = 1_000_000
	for _, dbc := range []struct {
		name string
		dsn  func(t testing.TB) string
	}{
		{"sqlite", sqliteDSN},
		{"postgres", func(t testing.TB) string { return postgresDSN(t, true) }},
	} {
		b.Run(dbc.name, func(b *testing.B) {
			db := openBench(b, dbc.dsn(b))
			start := time.Now()
			seedCommands(b, db, rows)
			b.Logf("%s: %d command rows written in %v", dbc.name, rows, time.Since(start).Round(time.Millisecond))
			// want is the count each query must find in the seeded rows.
			for _, c := range []struct {
				name, query string
				want        int
			}{
				{"newest-page", "", rows},
				{"by-user", "user=user-7", 20_000},
				{"by-session", "session=" + sessionOf(1234), 500},
				{"high-risk", "risk_level__gte=4", 10_310},
				{"time-range", "timestamp__gte=" + url.QueryEscape(benchT0.Add(500_000*time.Second).Format(time.RFC3339)) +
					"&timestamp__lte=" + url.QueryEscape(benchT0.Add(501_000*time.Second).Format(time.RFC3339)), 1_001},
				{"search-rare", "search=tok4242x", 1},
				{"search-common", "search=systemctl", 100_000},
				{"search-user-and-text", "user=user-7&search=journalctl", 2_000},
			} {
				b.Run(c.name, func(b *testing.B) {
					v, _ := url.ParseQuery(c.query)
					v.Set("limit", "20") // a page, as the console asks for
					q, err := query.Parse(CommandSchema, v)
					if err != nil {
						b.Fatal(err)
					}
					var n int
					for b.Loop() {
						var cs []Command
						if cs, n, err = db.Commands(bg, q, ""); err != nil {
							b.Fatal(err)
						}
						if n != c.want || len(cs) != min(20, n) {
							b.Fatalf("%d matches and a page of %d; want %d and %d", n, len(cs), c.want, min(20, c.want))
						}
					}
					b.ReportMetric(float64(n), "matches")
				})
			}
		})
	}
}

var benchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func sessionOf(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// seedCommands writes n plausible command rows: 2,000 sessions of 500
// commands, 50 users, 200 assets, one command a second, a few risky ones.
func seedCommands(b *testing.B, db *DB, n int) {
	verbs := []string{"ls -la /var/log", "systemctl status nginx", "journalctl -u app --since today", "cat /etc/os-release",
		"df -h", "top -b -n1", "grep -r error /var/log/app", "vim /etc/hosts", "sudo apt-get update", "rm -rf /tmp/build"}
	const batch = 500
	var sb strings.Builder
	args := make([]any, 0, batch*12)
	flush := func(tx *Tx) error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.exec(bg, sb.String(), args...)
		sb.Reset()
		args = args[:0]
		return err
	}
	err := db.Tx(bg, func(tx *Tx) error {
		for i := range n {
			if len(args) == 0 {
				sb.WriteString(`INSERT INTO commands (session_id, user_id, username, asset_id, asset, system_user_id, system_user,
					input, output, risk_level, action, timestamp) VALUES `)
			} else {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			s, u, a := i/500, (i/500)%50, (i/500)%200
			risk := 0
			if i%97 == 0 {
				risk = 5
			}
			args = append(args, sessionOf(s), fmt.Sprintf("u-%d", u), fmt.Sprintf("user-%d", u), fmt.Sprintf("a-%d", a),
				fmt.Sprintf("web-%03d", a), "su-1", "root", fmt.Sprintf("%s # tok%dx", verbs[i%len(verbs)], i),
				"", risk, "accept", Time(benchT0.Add(time.Duration(i)*time.Second)))
			if len(args) == batch*12 {
				if err := flush(tx); err != nil {
					return err
				}
			}
		}
		return flush(tx)
	})
	if err != nil {
		b.Fatal(err)
	}
}

func openBench(b *testing.B, dsn string) *DB {
	db, err := Open(bg, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
