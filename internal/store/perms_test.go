package store

import (
	"sort"
	"testing"
	"time"
)

func permIDs(ps []Permission) []string { return idsOf(ps, func(p Permission) string { return p.ID }) }

func TestPermissions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		// Members are given out of order: reads return them sorted by id.
		full := Permission{
			ID: "p1", Name: "web admins", Actions: []string{"connect", "upload", "download"},
			DateStart: at(-24 * time.Hour), DateExpired: at(30 * 24 * time.Hour), IsActive: true,
			Comment: "all members", CreatedBy: "admin", DateCreated: t0, DateUpdated: at(time.Second),
			Users: []string{"u2", "u1"}, UserGroups: []string{"g1"}, Assets: []string{"a3", "a1", "a2"},
			Nodes: []string{"n1"}, SystemUsers: []string{"s1", "s0"},
		}
		bare := Permission{ID: "p2", Name: "nobody", IsActive: false, DateCreated: at(time.Minute), DateUpdated: at(time.Minute)}
		other := Permission{ID: "p3", Name: "db readers", Actions: []string{"connect"}, IsActive: true,
			DateCreated: at(2 * time.Minute), DateUpdated: at(2 * time.Minute), Users: []string{"u1"}, Assets: []string{"a9"}}
		mustTx(t, db, func(tx *Tx) error {
			for _, p := range []*Permission{&full, &bare, &other} {
				if err := tx.CreatePermission(bg, p); err != nil {
					return err
				}
			}
			return nil
		})
		sorted := func(p Permission) Permission {
			for _, s := range []*[]string{&p.Users, &p.UserGroups, &p.Assets, &p.Nodes, &p.SystemUsers} {
				if len(*s) == 0 {
					*s = nil
				} else {
					*s = sortedCopy(*s)
				}
			}
			return p
		}

		t.Run("read back", func(t *testing.T) {
			got, err := db.Permission(bg, "p1")
			must(t, err)
			equal(t, "Permission(p1)", got, sorted(full))
			got, err = db.Permission(bg, "p2")
			must(t, err)
			equal(t, "Permission(p2) with no members or dates", got, bare)
			if !got.DateStart.IsZero() || !got.DateExpired.IsZero() {
				t.Errorf("zero dates did not stay zero: start %v, expired %v", got.DateStart, got.DateExpired)
			}
			_, err = db.Permission(bg, "nope")
			isErr(t, "Permission(nope)", err, ErrNotFound)
		})

		t.Run("conflict", func(t *testing.T) {
			err := db.Tx(bg, func(tx *Tx) error {
				return tx.CreatePermission(bg, &Permission{ID: "p9", Name: "web admins", DateCreated: t0, DateUpdated: t0})
			})
			isErr(t, "CreatePermission with a taken name", err, ErrConflict)
			err = db.Tx(bg, func(tx *Tx) error {
				return tx.CreatePermission(bg, &Permission{ID: "p9", Name: "dup member", DateCreated: t0, DateUpdated: t0, Users: []string{"u1", "u1"}})
			})
			isErr(t, "CreatePermission with a member twice", err, ErrConflict)
			_, err = db.Permission(bg, "p9")
			isErr(t, "permission of a failed create", err, ErrNotFound)
		})

		t.Run("PermissionsOf and lists", func(t *testing.T) {
			of, err := db.PermissionsOf(bg, KindUsers, "u1")
			must(t, err)
			sort.Strings(of)
			equal(t, "PermissionsOf(users, u1)", of, []string{"p1", "p3"})
			of, err = db.PermissionsOf(bg, KindAssets, "a2")
			must(t, err)
			equal(t, "PermissionsOf(assets, a2)", of, []string{"p1"})
			// Kinds are distinct even when ids collide.
			of, err = db.PermissionsOf(bg, KindNodes, "u1")
			must(t, err)
			equal(t, "PermissionsOf(nodes, u1)", of, []string(nil))

			ps, n, err := db.Permissions(bg, parse(t, PermissionSchema), PermissionFilter{Kind: KindUsers, ID: "u1"})
			must(t, err)
			equal(t, "Permissions(user u1) count", n, 2)
			equal(t, "Permissions(user u1)", permIDs(ps), []string{"p3", "p1"}) // by name
			if len(ps) == 2 {
				equal(t, "listed p1 has members", ps[1], sorted(full))
			}
			ps, n, err = db.Permissions(bg, parse(t, PermissionSchema, "is_active", "false"), PermissionFilter{})
			must(t, err)
			equal(t, "Permissions(inactive)", permIDs(ps), []string{"p2"})
			equal(t, "Permissions(inactive) count", n, 1)
			ps, _, err = db.Permissions(bg, parse(t, PermissionSchema, "date_expired__gte", rfc(at(time.Hour))), PermissionFilter{})
			must(t, err)
			equal(t, "Permissions(expires after)", permIDs(ps), []string{"p1"})
			ps, _, err = db.Permissions(bg, parse(t, PermissionSchema, "date_start__isnull", "true", "order", "-name"), PermissionFilter{})
			must(t, err)
			equal(t, "Permissions(no start)", permIDs(ps), []string{"p2", "p3"})
			ps, _, err = db.Permissions(bg, parse(t, PermissionSchema, "search", "WEB"), PermissionFilter{})
			must(t, err)
			equal(t, "Permissions(search=WEB)", permIDs(ps), []string{"p1"})

			all, err := db.AllPermissions(bg)
			must(t, err)
			sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
			for i := range all {
				all[i] = sorted(all[i])
			}
			equal(t, "AllPermissions", all, []Permission{sorted(full), bare, sorted(other)})
			miss, err := db.Missing(bg, "asset_permissions", []string{"p3", "p7"})
			must(t, err)
			equal(t, "Missing(asset_permissions)", miss, []string{"p7"})
		})

		t.Run("update replaces members", func(t *testing.T) {
			u := full
			u.Name, u.Actions, u.IsActive, u.Comment = "web admins 2", []string{"connect"}, false, ""
			u.DateStart, u.DateExpired = time.Time{}, at(time.Hour) // start cleared, expiry moved
			u.DateUpdated = at(time.Hour)
			u.Users, u.UserGroups, u.Assets, u.Nodes, u.SystemUsers = []string{"u3"}, nil, []string{"a2"}, []string{"n2", "n1"}, nil
			mustTx(t, db, func(tx *Tx) error { return tx.UpdatePermission(bg, &u) })
			got, err := db.Permission(bg, "p1")
			must(t, err)
			equal(t, "Permission(p1) after update", got, sorted(u))
			of, err := db.PermissionsOf(bg, KindUsers, "u1")
			must(t, err)
			equal(t, "PermissionsOf(users, u1) after update", of, []string{"p3"})
			err = db.Tx(bg, func(tx *Tx) error { x := u; x.ID = "nope"; x.Name = "nope"; return tx.UpdatePermission(bg, &x) })
			isErr(t, "UpdatePermission(nope)", err, ErrNotFound)
			err = db.Tx(bg, func(tx *Tx) error { x := u; x.Name = "db readers"; return tx.UpdatePermission(bg, &x) })
			isErr(t, "UpdatePermission to a taken name", err, ErrConflict)
			got, err = db.Permission(bg, "p1")
			must(t, err)
			equal(t, "Permission(p1) after a failed update", got, sorted(u))
		})

		t.Run("delete", func(t *testing.T) {
			mustTx(t, db, func(tx *Tx) error { return tx.DeletePermission(bg, "p1") })
			_, err := db.Permission(bg, "p1")
			isErr(t, "Permission after delete", err, ErrNotFound)
			equal(t, "member rows of a deleted permission", countRows(t, db, `SELECT COUNT(*) FROM asset_permission_members WHERE perm_id = ?`, "p1"), 0)
			of, err := db.PermissionsOf(bg, KindAssets, "a2")
			must(t, err)
			equal(t, "PermissionsOf after delete", of, []string(nil))
			err = db.Tx(bg, func(tx *Tx) error { return tx.DeletePermission(bg, "p1") })
			isErr(t, "DeletePermission twice", err, ErrNotFound)
			all, err := db.AllPermissions(bg)
			must(t, err)
			equal(t, "AllPermissions after delete", len(all), 2)
		})
	})
}
