package store

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func userIDs(us []User) []string { return idsOf(us, func(u User) string { return u.ID }) }

func TestUserLists(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		// Ids run against username order, so the tiebreak on id is visible.
		mk := func(id, username, name, email, role string, active bool, created time.Duration) *User {
			u := newUser(id, username)
			u.Name, u.Email, u.Role, u.IsActive = name, email, role, active
			u.DateCreated = at(created)
			return u
		}
		createUsers(t, db,
			mk("u6", "alice", "Alice Smith", "alice@example.com", "admin", true, 0),
			mk("u5", "bob", "Bob 100% Real", "bob@example.com", "user", true, time.Hour),
			mk("u4", "carol", "Carol_X", "carol@example.org", "user", false, 2*time.Hour),
			mk("u3", "dave", "Dave 1000 Real", "dave@example.org", "auditor", true, 3*time.Hour),
			mk("u2", "erin", "CarolaX", "erin@example.com", "user", true, 4*time.Hour),
			mk("u1", "frank", "Frank", "FRANK@EXAMPLE.COM", "admin", true, 5*time.Hour),
		)
		createGroups(t, db, &Group{ID: "g1", Name: "ops", Users: []string{"u1", "u5"}})

		run := func(t *testing.T, kv []string, wantCount int, want []string) {
			t.Helper()
			us, n, err := db.Users(bg, parse(t, UserSchema, kv...), "")
			if err != nil {
				t.Fatalf("Users(%v): %v", kv, err)
			}
			if n != wantCount {
				t.Errorf("Users(%v) count = %d, want %d", kv, n, wantCount)
			}
			equal(t, "Users page", userIDs(us), want)
		}
		cases := []struct {
			name  string
			kv    []string
			count int
			want  []string
		}{
			{"default order", nil, 6, []string{"u6", "u5", "u4", "u3", "u2", "u1"}},
			{"page 2 of 2", []string{"limit", "2", "offset", "2"}, 6, []string{"u4", "u3"}},
			{"last partial page", []string{"limit", "4", "offset", "4"}, 6, []string{"u2", "u1"}},
			{"offset past the end", []string{"limit", "4", "offset", "10"}, 6, nil},
			{"offset without limit", []string{"offset", "4"}, 6, []string{"u2", "u1"}},
			{"order desc", []string{"order", "-username", "limit", "3"}, 6, []string{"u1", "u2", "u3"}},
			// Ties on role fall back to id, in the direction of the order
			// (so that an index on the column and id gives the order).
			{"order asc with ties", []string{"order", "role"}, 6, []string{"u1", "u6", "u3", "u2", "u4", "u5"}},
			{"order desc with ties", []string{"order", "-role"}, 6, []string{"u5", "u4", "u2", "u3", "u6", "u1"}},
			{"two order keys", []string{"order", "role,-username"}, 6, []string{"u1", "u6", "u3", "u2", "u4", "u5"}},
			{"order by time", []string{"order", "-date_created", "limit", "2"}, 6, []string{"u1", "u2"}},
			// Search is case-insensitive and ORs the search fields.
			{"search case-insensitive", []string{"search", "ALICE"}, 1, []string{"u6"}},
			{"search upper-case data", []string{"search", "frank@example"}, 1, []string{"u1"}},
			{"search across fields", []string{"search", "example.org"}, 2, []string{"u4", "u3"}},
			{"search percent is literal", []string{"search", "100%"}, 1, []string{"u5"}},
			{"search underscore is literal", []string{"search", "l_x"}, 1, []string{"u4"}},
			{"search backslash is literal", []string{"search", `\`}, 0, nil},
			{"search with page", []string{"search", "real", "limit", "1", "offset", "1"}, 2, []string{"u3"}},
			{"in", []string{"username__in", "alice,carol,nobody"}, 2, []string{"u6", "u4"}},
			{"in and order", []string{"role__in", "admin,auditor", "order", "-username"}, 3, []string{"u1", "u3", "u6"}},
			{"icontains", []string{"name__icontains", "REAL"}, 2, []string{"u5", "u3"}},
			{"icontains percent literal", []string{"name__icontains", "0%"}, 1, []string{"u5"}},
			{"icontains underscore literal", []string{"name__icontains", "_"}, 1, []string{"u4"}},
			{"exact is case-sensitive", []string{"email", "frank@example.com"}, 0, nil},
			{"contains is case-sensitive", []string{"name__contains", "real"}, 0, nil},
			{"startswith", []string{"name__startswith", "Carol"}, 2, []string{"u4", "u2"}},
			{"ne", []string{"role__ne", "user"}, 3, []string{"u6", "u3", "u1"}},
			{"bool false", []string{"is_active", "false"}, 1, []string{"u4"}},
			{"bool true", []string{"is_active", "true"}, 5, []string{"u6", "u5", "u3", "u2", "u1"}},
			{"bool 0", []string{"is_active", "0"}, 1, []string{"u4"}},
			{"time gte inclusive", []string{"date_created__gte", rfc(at(4 * time.Hour))}, 2, []string{"u2", "u1"}},
			{"time lte inclusive", []string{"date_created__lte", rfc(at(time.Hour))}, 2, []string{"u6", "u5"}},
			{"time gt/lt exclusive", []string{"date_created__gt", rfc(at(time.Hour)), "date_created__lt", rfc(at(3 * time.Hour))}, 1, []string{"u4"}},
			{"time isnull", []string{"date_expired__isnull", "true", "role", "admin"}, 2, []string{"u6", "u1"}},
			{"filters are ANDed", []string{"role", "user", "is_active", "true"}, 2, []string{"u5", "u2"}},
			{"filter and search", []string{"role", "user", "search", "carol"}, 2, []string{"u4", "u2"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { run(t, c.kv, c.count, c.want) })
		}

		t.Run("paging is stable across ties", func(t *testing.T) {
			// Walk every page of size 1 in an order full of ties: together
			// the pages must be the full list, each row exactly once.
			var walked []string
			for off := 0; off < 6; off++ {
				us, n, err := db.Users(bg, parse(t, UserSchema, "order", "is_active", "limit", "1", "offset", strconv.Itoa(off)), "")
				must(t, err)
				equal(t, "count", n, 6)
				walked = append(walked, userIDs(us)...)
			}
			equal(t, "pages walked", walked, []string{"u4", "u1", "u2", "u3", "u5", "u6"})
		})

		t.Run("active admins", func(t *testing.T) {
			// Admins are u6 and u1, both active; carol (u4) is inactive.
			for _, c := range []struct {
				except string
				want   int
			}{{"", 2}, {"u1", 1}, {"u6", 1}, {"u4", 2}} {
				n, err := db.ActiveAdmins(bg, c.except)
				must(t, err)
				if n != c.want {
					t.Errorf("ActiveAdmins(except %q) = %d, want %d", c.except, n, c.want)
				}
			}
		})

		t.Run("group restriction combines with the query", func(t *testing.T) {
			us, n, err := db.Users(bg, parse(t, UserSchema, "order", "-username"), "g1")
			must(t, err)
			equal(t, "count", n, 2)
			equal(t, "ids", userIDs(us), []string{"u1", "u5"})
			equal(t, "groups filled", us[0].Groups, []string{"g1"})
			us, n, err = db.Users(bg, parse(t, UserSchema, "search", "alice"), "g1")
			must(t, err)
			if n != 0 || len(us) != 0 {
				t.Errorf("search outside the group: %d, %v", n, userIDs(us))
			}
		})
	})
}

func sessionIDs(ss []Session) []string { return idsOf(ss, func(s Session) string { return s.ID }) }

func TestSessionLists(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		base := Session{UserID: "u1", Username: "alice", AssetID: "a1", Asset: "web-01", SystemUserID: "s1", SystemUser: "root",
			Protocol: "ssh", LoginFrom: "ST", RemoteAddr: "10.0.0.1", IsSuccess: true}
		var all []Session
		for i, spec := range []struct {
			user, asset, proto string
			finished           bool
		}{
			{"u1", "web-01", "ssh", true},
			{"u2", "db-01", "ssh", true},
			{"u1", "db-02", "rdp", false},
			{"u2", "web-02", "ssh", true},
			{"u1", "WEB-03", "sftp", false},
		} {
			s := base
			s.ID = fmt.Sprintf("s%02d", i)
			s.UserID, s.Asset, s.Protocol, s.IsFinished = spec.user, spec.asset, spec.proto, spec.finished
			s.Username = map[string]string{"u1": "alice", "u2": "bob"}[spec.user]
			s.StartTime = at(time.Duration(i) * time.Hour)
			if spec.finished {
				s.EndTime = s.StartTime.Add(30 * time.Minute)
			}
			if i == 1 {
				s.IsSuccess, s.Reason, s.TerminatedBy, s.HasReplay = false, "auth failed", "admin", true
			}
			insertSession(t, db, s)
			all = append(all, s)
		}

		t.Run("read one", func(t *testing.T) {
			for _, want := range []Session{all[1], all[2]} {
				got, err := db.Session(bg, want.ID)
				must(t, err)
				equal(t, "Session("+want.ID+")", got, want)
			}
			_, err := db.Session(bg, "nope")
			isErr(t, "Session(nope)", err, ErrNotFound)
		})

		cases := []struct {
			name  string
			kv    []string
			user  string
			count int
			want  []string
		}{
			{"default newest first", nil, "", 5, []string{"s04", "s03", "s02", "s01", "s00"}},
			{"gte and lte inclusive", []string{"start_time__gte", rfc(at(time.Hour)), "start_time__lte", rfc(at(3 * time.Hour)), "order", "start_time"}, "", 3, []string{"s01", "s02", "s03"}},
			{"gt exclusive by a nanosecond", []string{"start_time__gt", rfc(at(3*time.Hour - time.Nanosecond))}, "", 2, []string{"s04", "s03"}},
			{"gte with an offset time zone", []string{"start_time__gte", at(3 * time.Hour).In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano)}, "", 2, []string{"s04", "s03"}},
			{"lt bare date", []string{"start_time__lt", "2024-05-01"}, "", 0, nil},
			{"gte bare date", []string{"start_time__gte", "2024-05-01"}, "", 5, []string{"s04", "s03", "s02", "s01", "s00"}},
			{"end time null", []string{"end_time__isnull", "true"}, "", 2, []string{"s04", "s02"}},
			{"bool finished", []string{"is_finished", "false"}, "", 2, []string{"s04", "s02"}},
			{"bool success", []string{"is_success", "False"}, "", 1, []string{"s01"}},
			{"in", []string{"protocol__in", "rdp,sftp"}, "", 2, []string{"s04", "s02"}},
			{"id in", []string{"id__in", "s00,s03,nope"}, "", 2, []string{"s03", "s00"}},
			{"search case-insensitive", []string{"search", "web"}, "", 3, []string{"s04", "s03", "s00"}},
			{"icontains", []string{"asset__icontains", "DB-"}, "", 2, []string{"s02", "s01"}},
			{"user restriction", nil, "u1", 3, []string{"s04", "s02", "s00"}},
			{"user restriction and filter", []string{"is_finished", "true"}, "u1", 1, []string{"s00"}},
			{"user restriction with page", []string{"limit", "1", "offset", "1"}, "u1", 3, []string{"s02"}},
			{"order by name then time", []string{"order", "user,-start_time"}, "", 5, []string{"s04", "s02", "s00", "s03", "s01"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ss, n, err := db.Sessions(bg, parse(t, SessionSchema, c.kv...), c.user)
				if err != nil {
					t.Fatalf("Sessions(%v, %q): %v", c.kv, c.user, err)
				}
				equal(t, "count", n, c.count)
				equal(t, "page", sessionIDs(ss), c.want)
			})
		}
	})
}

func TestLogLists(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		logs := []LoginLog{
			{Username: "alice", UserID: "u1", Type: "api", Method: "password", IP: "10.0.0.1", UserAgent: "curl", Status: true, Datetime: at(0)},
			{Username: "alice", UserID: "u1", Type: "ssh", Method: "publickey", IP: "10.0.0.2", MFA: true, Status: false, Reason: "key not registered", Datetime: at(time.Minute)},
			{Username: "ghost", Type: "api", Method: "password", IP: "192.168.1.9", Status: false, Reason: "no such user", Datetime: at(2 * time.Minute)},
			{Username: "bob", UserID: "u2", Type: "web", Method: "password", IP: "10.0.0.3", Status: true, Datetime: at(2 * time.Minute)},
		}
		for i := range logs {
			must(t, db.AddLoginLog(bg, &logs[i]))
		}
		got, n, err := db.LoginLogs(bg, parse(t, LoginLogSchema), "")
		must(t, err)
		equal(t, "LoginLogs count", n, 4)
		if len(got) != 4 {
			t.Fatalf("LoginLogs returned %d rows", len(got))
		}
		// Newest first; the two rows of the same instant by id, the later
		// row first.
		wantOrder := []LoginLog{logs[3], logs[2], logs[1], logs[0]}
		ids := map[string]int64{}
		for i, g := range got {
			if g.ID == 0 {
				t.Errorf("row %d has no id", i)
			}
			ids[g.Username+g.Type] = g.ID
			w := wantOrder[i]
			w.ID = g.ID
			equal(t, "LoginLogs row", g, w)
		}
		if !(ids["alicessh"] > ids["aliceapi"] && ids["bobweb"] > ids["ghostapi"]) {
			t.Errorf("ids are not increasing in insert order: %v", ids)
		}

		check := func(name string, kv []string, user string, want ...string) {
			t.Helper()
			ls, n, err := db.LoginLogs(bg, parse(t, LoginLogSchema, kv...), user)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var names []string
			for _, l := range ls {
				names = append(names, l.Username+"/"+l.Type)
			}
			equal(t, name+" count", n, len(want))
			if len(want) == 0 {
				want = nil
			}
			equal(t, name, names, want)
		}
		check("failed", []string{"status", "false"}, "", "ghost/api", "alice/ssh")
		check("user restriction", nil, "u1", "alice/ssh", "alice/api")
		check("ip search", []string{"search", "192.168"}, "", "ghost/api")
		check("id gte", []string{"id__gte", i64(ids["ghostapi"]), "order", "id"}, "", "ghost/api", "bob/web")
		check("id in", []string{"id__in", i64(ids["aliceapi"]) + "," + i64(ids["bobweb"])}, "", "bob/web", "alice/api")
		check("datetime window", []string{"datetime__gte", rfc(at(time.Minute)), "datetime__lt", rfc(at(2 * time.Minute))}, "", "alice/ssh")
		check("type in, ascending", []string{"type__in", "api,web", "order", "datetime"}, "", "alice/api", "ghost/api", "bob/web")
		check("reason icontains", []string{"reason__icontains", "SUCH"}, "", "ghost/api")

		// Operate logs land inside the change's transaction.
		ops := []OperateLog{
			{UserID: "u1", Username: "alice", Action: "create", ResourceType: "user", ResourceID: "u9", Resource: "zed", Diff: `{"name":"zed"}`, RemoteAddr: "10.0.0.1", Datetime: at(0)},
			{UserID: "u1", Username: "alice", Action: "delete", ResourceType: "asset", ResourceID: "a1", Resource: "web-01", Diff: "{}", Datetime: at(time.Minute)},
			{UserID: "u2", Username: "bob", Action: "update", ResourceType: "asset", ResourceID: "a2", Resource: "Web_02", Diff: "{}", Datetime: at(2 * time.Minute)},
		}
		mustTx(t, db, func(tx *Tx) error {
			for i := range ops {
				if err := tx.AddOperateLog(bg, &ops[i]); err != nil {
					return err
				}
			}
			return nil
		})
		ol, n, err := db.OperateLogs(bg, parse(t, OperateLogSchema, "resource_type", "asset"))
		must(t, err)
		equal(t, "OperateLogs(asset) count", n, 2)
		if len(ol) == 2 {
			w := ops[2]
			w.ID = ol[0].ID
			equal(t, "newest asset operate log", ol[0], w)
		}
		ol, _, err = db.OperateLogs(bg, parse(t, OperateLogSchema, "search", "WEB_"))
		must(t, err)
		equal(t, "OperateLogs(search=WEB_)", idsOf(ol, func(o OperateLog) string { return o.ResourceID }), []string{"a2"})
		ol, _, err = db.OperateLogs(bg, parse(t, OperateLogSchema, "user", "alice", "order", "datetime"))
		must(t, err)
		equal(t, "OperateLogs(user=alice)", idsOf(ol, func(o OperateLog) string { return o.ResourceID }), []string{"u9", "a1"})
	})
}
