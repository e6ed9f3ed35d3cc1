package store

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		// Group names sort opposite to their ids, so an order by id would show.
		createGroups(t, db,
			&Group{ID: "g1", Name: "ops"},
			&Group{ID: "g2", Name: "dev"},
			&Group{ID: "g3", Name: "audit"})

		// Keys in an order that is neither by fingerprint nor by line.
		keys := []PublicKey{
			{Fingerprint: "SHA256:zzz", Line: "ssh-ed25519 AAAA3 third"},
			{Fingerprint: "SHA256:aaa", Line: "ssh-ed25519 AAAA1 first"},
			{Fingerprint: "SHA256:mmm", Line: "ssh-rsa AAAA2 second"},
		}
		alice := &User{
			ID: "u1", Username: "alice", Name: "Alice Liddell", Email: "alice@example.com", Phone: "+1 555 0100",
			Role: "admin", IsActive: true, DateExpired: at(365 * 24 * time.Hour),
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", PasswordSetAt: at(-time.Hour),
			OTPSecret: "sealed:otp", OTPEnabled: true, Comment: "first admin", CreatedBy: "system",
			DateCreated: t0, DateUpdated: at(time.Minute),
			Groups:     []string{"g1", "g2"},
			PublicKeys: keys,
		}
		bob := newUser("u2", "bob") // no groups, keys or optional times
		bob.IsActive = false
		createUsers(t, db, alice, bob)

		t.Run("read by id and username", func(t *testing.T) {
			want := *alice
			want.Groups = []string{"g2", "g1"} // ordered by group name: dev, ops
			got, err := db.User(bg, "u1")
			must(t, err)
			equal(t, "User(u1)", got, want)
			got, err = db.UserByUsername(bg, "alice")
			must(t, err)
			equal(t, "UserByUsername(alice)", got, want)

			got, err = db.User(bg, "u2")
			must(t, err)
			equal(t, "User(u2) with zero times and no groups/keys", got, *bob)
			if !got.DateExpired.IsZero() || !got.PasswordSetAt.IsZero() || !got.LastLogin.IsZero() {
				t.Errorf("zero times did not stay zero: %+v", got)
			}
		})

		t.Run("not found", func(t *testing.T) {
			_, err := db.User(bg, "nope")
			isErr(t, "User(nope)", err, ErrNotFound)
			_, err = db.UserByUsername(bg, "nope")
			isErr(t, "UserByUsername(nope)", err, ErrNotFound)
			err = db.Tx(bg, func(tx *Tx) error { return tx.UpdateUser(bg, newUser("nope", "nope")) })
			isErr(t, "UpdateUser(nope)", err, ErrNotFound)
			err = db.Tx(bg, func(tx *Tx) error { return tx.DeleteUser(bg, "nope") })
			isErr(t, "DeleteUser(nope)", err, ErrNotFound)
			isErr(t, "Unlock(nope)", db.Tx(bg, func(tx *Tx) error { return tx.Unlock(bg, "nope") }), ErrNotFound)
		})

		t.Run("conflicts", func(t *testing.T) {
			err := db.Tx(bg, func(tx *Tx) error { return tx.CreateUser(bg, newUser("u9", "alice")) })
			isErr(t, "CreateUser with a taken username", err, ErrConflict)
			err = db.Tx(bg, func(tx *Tx) error { return tx.CreateUser(bg, newUser("u1", "someone")) })
			isErr(t, "CreateUser with a taken id", err, ErrConflict)
			_, err = db.User(bg, "u9")
			isErr(t, "user of a conflicting create", err, ErrNotFound)
			b := newUser("u2", "alice")
			err = db.Tx(bg, func(tx *Tx) error { return tx.UpdateUser(bg, b) })
			isErr(t, "UpdateUser to a taken username", err, ErrConflict)
			err = db.Tx(bg, func(tx *Tx) error {
				u := newUser("u9", "carol")
				u.PublicKeys = []PublicKey{{Fingerprint: "SHA256:x", Line: "a"}, {Fingerprint: "SHA256:x", Line: "b"}}
				return tx.CreateUser(bg, u)
			})
			isErr(t, "CreateUser with the same key twice", err, ErrConflict)
			err = db.Tx(bg, func(tx *Tx) error {
				return tx.CreateGroup(bg, &Group{ID: "g9", Name: "ops", DateCreated: t0, DateUpdated: t0})
			})
			isErr(t, "CreateGroup with a taken name", err, ErrConflict)
			if n, err := db.UserCount(bg); err != nil || n != 2 {
				t.Errorf("UserCount after failed creates = %d, %v; want 2", n, err)
			}
		})

		t.Run("keys", func(t *testing.T) {
			for _, c := range []struct {
				user, fp string
				want     bool
			}{{"u1", "SHA256:aaa", true}, {"u1", "SHA256:nope", false}, {"u2", "SHA256:aaa", false}} {
				got, err := db.UserHasKey(bg, c.user, c.fp)
				must(t, err)
				if got != c.want {
					t.Errorf("UserHasKey(%s, %s) = %v, want %v", c.user, c.fp, got, c.want)
				}
			}
		})

		t.Run("update replaces groups and keys", func(t *testing.T) {
			u, err := db.User(bg, "u1")
			must(t, err)
			u.Username, u.Name, u.Email, u.Role = "alice2", "Alice L.", "a2@example.com", "auditor"
			u.IsActive, u.OTPEnabled, u.OTPSecret = false, false, ""
			u.DateExpired = time.Time{}
			u.DateUpdated = at(time.Hour)
			u.Groups = []string{"g3"}
			u.PublicKeys = []PublicKey{{Fingerprint: "SHA256:new", Line: "ssh-ed25519 NEW"}, keys[0]}
			mustTx(t, db, func(tx *Tx) error { return tx.UpdateUser(bg, &u) })
			got, err := db.User(bg, "u1")
			must(t, err)
			equal(t, "User after update", got, u)
			has, err := db.UserHasKey(bg, "u1", "SHA256:aaa")
			must(t, err)
			if has {
				t.Error("a removed key is still accepted")
			}
			_, err = db.UserByUsername(bg, "alice")
			isErr(t, "old username after rename", err, ErrNotFound)
			g, err := db.Group(bg, "g1")
			must(t, err)
			equal(t, "members of a group the user left", g.Users, []string(nil))
			m, err := db.Memberships(bg)
			must(t, err)
			equal(t, "Memberships", m, map[string][]string{"u1": {"g3"}})
		})

		t.Run("groups", func(t *testing.T) {
			createUsers(t, db, newUser("u3", "carol"), newUser("u4", "aaron"))
			mustTx(t, db, func(tx *Tx) error {
				return tx.UpdateGroup(bg, &Group{ID: "g2", Name: "developers", Comment: "devs", DateUpdated: at(time.Hour), Users: []string{"u3", "u4", "u2"}})
			})
			g, err := db.Group(bg, "g2")
			must(t, err)
			equal(t, "Group(g2)", g, Group{ID: "g2", Name: "developers", Comment: "devs", DateCreated: t0, DateUpdated: at(time.Hour),
				Users: []string{"u4", "u2", "u3"}}) // by username: aaron, bob, carol
			u, err := db.User(bg, "u3")
			must(t, err)
			equal(t, "groups of a user added through the group", u.Groups, []string{"g2"})
			_, err = db.Group(bg, "nope")
			isErr(t, "Group(nope)", err, ErrNotFound)
			err = db.Tx(bg, func(tx *Tx) error { return tx.UpdateGroup(bg, &Group{ID: "nope", Name: "x"}) })
			isErr(t, "UpdateGroup(nope)", err, ErrNotFound)
			names, err := db.GroupNames(bg, []string{"g1", "g2", "nope"})
			must(t, err)
			equal(t, "GroupNames", names, map[string]string{"g1": "ops", "g2": "developers"})
			gs, n, err := db.Groups(bg, parse(t, GroupSchema, "search", "DEV"))
			must(t, err)
			equal(t, "Groups(search=DEV) count", n, 1)
			if len(gs) != 1 || len(gs[0].Users) != 3 {
				t.Errorf("Groups(search=DEV) = %+v, want developers with 3 members", gs)
			}
			miss, err := db.Missing(bg, "user_groups", []string{"g3", "nope", "g1", "nope2"})
			must(t, err)
			equal(t, "Missing(user_groups)", miss, []string{"nope", "nope2"})
			users, n, err := db.Users(bg, parse(t, UserSchema), "g2")
			must(t, err)
			equal(t, "Users(group=g2) count", n, 3)
			equal(t, "Users(group=g2)", idsOf(users, func(u User) string { return u.ID }), []string{"u4", "u2", "u3"})
		})

		t.Run("delete cascades", func(t *testing.T) {
			mustTx(t, db, func(tx *Tx) error {
				return tx.CreatePermission(bg, &Permission{ID: "p1", Name: "p1", Actions: []string{"connect"}, IsActive: true,
					DateCreated: t0, DateUpdated: t0, Users: []string{"u3", "u4"}, UserGroups: []string{"g2", "g3"}})
			})
			must(t, db.CreateToken(bg, &Token{ID: "t3", UserID: "u3", Digest: "d3", DateCreated: t0, ExpiresAt: at(time.Hour)}))
			mustTx(t, db, func(tx *Tx) error { return tx.DeleteUser(bg, "u3") })

			_, err := db.User(bg, "u3")
			isErr(t, "User after delete", err, ErrNotFound)
			g, err := db.Group(bg, "g2")
			must(t, err)
			equal(t, "group members after a member was deleted", g.Users, []string{"u4", "u2"})
			p, err := db.Permission(bg, "p1")
			must(t, err)
			equal(t, "permission users after a user was deleted", p.Users, []string{"u4"})
			of, err := db.PermissionsOf(bg, KindUsers, "u3")
			must(t, err)
			equal(t, "PermissionsOf(deleted user)", of, []string(nil))
			_, err = db.Token(bg, "t3")
			isErr(t, "token of a deleted user", err, ErrNotFound)

			mustTx(t, db, func(tx *Tx) error { return tx.DeleteGroup(bg, "g2") })
			_, err = db.Group(bg, "g2")
			isErr(t, "Group after delete", err, ErrNotFound)
			p, err = db.Permission(bg, "p1")
			must(t, err)
			equal(t, "permission groups after a group was deleted", p.UserGroups, []string{"g3"})
			u, err := db.User(bg, "u4")
			must(t, err)
			equal(t, "groups of a user whose group was deleted", u.Groups, []string(nil))
			err = db.Tx(bg, func(tx *Tx) error { return tx.DeleteGroup(bg, "g2") })
			isErr(t, "DeleteGroup twice", err, ErrNotFound)
			equal(t, "membership rows of deleted user and group",
				countRows(t, db, `SELECT COUNT(*) FROM user_group_members WHERE user_id = ? OR group_id = ?`, "u3", "g2"), 0)
			equal(t, "key rows of deleted user", countRows(t, db, `SELECT COUNT(*) FROM user_public_keys WHERE user_id = ?`, "u3"), 0)
		})
	})
}

func TestLockout(t *testing.T) {
	t.Parallel()
	const window, max = 10 * time.Minute, 3
	forEachDB(t, func(t *testing.T, db *DB) {
		state := func(id string) User {
			t.Helper()
			u, err := db.User(bg, id)
			must(t, err)
			return u
		}
		fail := func(id string, d time.Duration, wantLocked bool) {
			t.Helper()
			locked, err := db.LoginFailed(bg, id, at(d), window, max)
			must(t, err)
			if locked != wantLocked {
				u := state(id)
				t.Fatalf("LoginFailed(%s, t0+%v) locked = %v, want %v (failed_logins=%d since=%v locked_until=%v)",
					id, d, locked, wantLocked, u.FailedLogins, u.FailedSince, u.LockedUntil)
			}
		}
		createUsers(t, db, newUser("u1", "alice"), newUser("u2", "bob"), newUser("u3", "carol"), newUser("u4", "dave"))

		t.Run("locks at max failures, not before", func(t *testing.T) {
			fail("u1", 0, false)
			fail("u1", time.Minute, false)
			u := state("u1")
			equal(t, "FailedLogins after 2", u.FailedLogins, 2)
			equal(t, "FailedSince", u.FailedSince, t0)
			if !u.LockedUntil.IsZero() {
				t.Fatalf("locked after %d failures: %v", 2, u.LockedUntil)
			}
			fail("u1", 2*time.Minute, true)
			u = state("u1")
			equal(t, "LockedUntil", u.LockedUntil, at(2*time.Minute+window))
			equal(t, "FailedLogins after 3", u.FailedLogins, 3)
			// Failing again while locked keeps counting but does not extend
			// the lock or report a new one.
			fail("u1", 3*time.Minute, false)
			u = state("u1")
			equal(t, "LockedUntil after a failure while locked", u.LockedUntil, at(2*time.Minute+window))
			equal(t, "FailedLogins after 4", u.FailedLogins, 4)
			// Other users are untouched.
			equal(t, "other user's FailedLogins", state("u2").FailedLogins, 0)
		})

		t.Run("unlock clears", func(t *testing.T) {
			mustTx(t, db, func(tx *Tx) error { return tx.Unlock(bg, "u1") })
			u := state("u1")
			if u.FailedLogins != 0 || !u.FailedSince.IsZero() || !u.LockedUntil.IsZero() {
				t.Fatalf("after Unlock: failed_logins=%d since=%v locked_until=%v", u.FailedLogins, u.FailedSince, u.LockedUntil)
			}
			fail("u1", 4*time.Minute, false)
			fail("u1", 5*time.Minute, false)
			fail("u1", 6*time.Minute, true)
		})

		t.Run("failures older than the window reset the count", func(t *testing.T) {
			fail("u2", 0, false)
			fail("u2", time.Minute, false)
			// 12 minutes on, the first failure has left the 10-minute window.
			fail("u2", 12*time.Minute, false)
			u := state("u2")
			equal(t, "FailedLogins after the window passed", u.FailedLogins, 1)
			equal(t, "FailedSince after the window passed", u.FailedSince, at(12*time.Minute))
			fail("u2", 13*time.Minute, false)
			fail("u2", 14*time.Minute, true)
			equal(t, "LockedUntil", state("u2").LockedUntil, at(14*time.Minute+window))
		})

		t.Run("a lock expires and a new one can start", func(t *testing.T) {
			fail("u4", 0, false)
			fail("u4", time.Second, false)
			fail("u4", 2*time.Second, true)
			// Past the lock and the window: counting starts over.
			fail("u4", 30*time.Minute, false)
			fail("u4", 31*time.Minute, false)
			fail("u4", 32*time.Minute, true)
			equal(t, "second LockedUntil", state("u4").LockedUntil, at(32*time.Minute+window))
		})

		t.Run("login success clears the count", func(t *testing.T) {
			fail("u3", 0, false)
			fail("u3", time.Minute, false)
			must(t, db.LoginSucceeded(bg, "u3", at(2*time.Minute)))
			u := state("u3")
			if u.FailedLogins != 0 || !u.FailedSince.IsZero() {
				t.Fatalf("after LoginSucceeded: failed_logins=%d since=%v", u.FailedLogins, u.FailedSince)
			}
			equal(t, "LastLogin", u.LastLogin, at(2*time.Minute))
			fail("u3", 3*time.Minute, false)
			fail("u3", 4*time.Minute, false)
			equal(t, "FailedLogins after success and 2 failures", state("u3").FailedLogins, 2)
			fail("u3", 5*time.Minute, true)
		})
	})
}

func sortedCopy(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

// TestFillUsersLargePage reads groups and keys for a page larger than
// either database's bound-parameter limit (32766 on SQLite, 65535 on
// PostgreSQL), as an unlimited user list on a big install does.
func TestFillUsersLargePage(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		alice := newUser("u1", "alice")
		alice.PublicKeys = []PublicKey{{Fingerprint: "SHA256:b", Line: "b"}, {Fingerprint: "SHA256:a", Line: "a"}}
		createUsers(t, db, alice)
		createGroups(t, db, &Group{ID: "g1", Name: "ops", Users: []string{"u1"}})
		n := 32800 // past SQLite's 32766
		if db.Postgres() {
			n = 65600 // past PostgreSQL's 65535
		}
		users := make([]User, n)
		for i := range users {
			users[i].ID = fmt.Sprintf("x%05d", i)
		}
		users[len(users)-1].ID = "u1"
		if err := db.fillUsers(bg, users); err != nil {
			t.Fatalf("fillUsers of %d users: %v", len(users), err)
		}
		last := users[len(users)-1]
		equal(t, "groups of the last user", last.Groups, []string{"g1"})
		equal(t, "keys of the last user", last.PublicKeys, alice.PublicKeys)
		equal(t, "keys of a user without any", users[0].PublicKeys, []PublicKey(nil))
	})
}
