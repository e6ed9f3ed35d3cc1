package store

import (
	"sort"
	"testing"
	"time"
)

func assetIDs(as []Asset) []string { return idsOf(as, func(a Asset) string { return a.ID }) }

// inventoryFixture writes two platforms and a small node tree:
//
//	root ── ops ── web
//	     └─ dev
func inventoryFixture(t *testing.T, db *DB) {
	t.Helper()
	must(t, db.UpsertPlatform(bg, &Platform{ID: 1, Name: "Linux", Category: "host", Type: "linux",
		Protocols: []Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}, Builtin: true}))
	must(t, db.UpsertPlatform(bg, &Platform{ID: 2, Name: "Windows", Category: "host", Type: "windows",
		Protocols: []Protocol{{Name: "rdp", Port: 3389}}, Builtin: true, Comment: "builtin"}))
	mustTx(t, db, func(tx *Tx) error {
		for _, n := range []Node{
			{ID: "n0", Name: "root"},
			{ID: "n1", Parent: "n0", Name: "ops"},
			{ID: "n2", Parent: "n0", Name: "dev"},
			{ID: "n3", Parent: "n1", Name: "web"},
		} {
			n.DateCreated, n.DateUpdated = t0, t0
			if err := tx.CreateNode(bg, &n); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestPlatforms(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		inventoryFixture(t, db)
		p, err := db.Platform(bg, 1)
		must(t, err)
		equal(t, "Platform(1)", p, Platform{ID: 1, Name: "Linux", Category: "host", Type: "linux",
			Protocols: []Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}, Builtin: true})
		_, err = db.Platform(bg, 99)
		isErr(t, "Platform(99)", err, ErrNotFound)

		// Upsert replaces every column of the same id.
		custom := Platform{ID: 2, Name: "Windows Server", Category: "host", Type: "windows",
			Protocols: []Protocol{{Name: "rdp", Port: 3390}, {Name: "ssh", Port: 22}}, Builtin: false, Comment: "edited"}
		must(t, db.UpsertPlatform(bg, &custom))
		p, err = db.Platform(bg, 2)
		must(t, err)
		equal(t, "Platform(2) after upsert", p, custom)
		err = db.UpsertPlatform(bg, &Platform{ID: 3, Name: "Linux", Category: "host", Type: "linux"})
		isErr(t, "UpsertPlatform with a taken name", err, ErrConflict)

		ps, n, err := db.Platforms(bg, parse(t, PlatformSchema, "builtin", "true"))
		must(t, err)
		equal(t, "Platforms(builtin) count", n, 1)
		if len(ps) != 1 || ps[0].ID != 1 {
			t.Errorf("Platforms(builtin) = %+v", ps)
		}
		ps, n, err = db.Platforms(bg, parse(t, PlatformSchema, "order", "-id"))
		must(t, err)
		equal(t, "Platforms count", n, 2)
		equal(t, "Platforms order", idsOf(ps, func(p Platform) string { return p.Name }), []string{"Windows Server", "Linux"})
		miss, err := db.Missing(bg, "platforms", []string{"1", "7"})
		must(t, err)
		equal(t, "Missing(platforms)", miss, []string{"7"})
	})
}

func TestNodes(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		inventoryFixture(t, db)
		use := func(id string, wantChildren, wantAssets int) {
			t.Helper()
			c, a, err := db.NodeUse(bg, id)
			must(t, err)
			if c != wantChildren || a != wantAssets {
				t.Errorf("NodeUse(%s) = %d children, %d assets; want %d, %d", id, c, a, wantChildren, wantAssets)
			}
		}

		n, err := db.Node(bg, "n3")
		must(t, err)
		equal(t, "Node(n3)", n, Node{ID: "n3", Parent: "n1", Name: "web", DateCreated: t0, DateUpdated: t0})
		n, err = db.Node(bg, "n0")
		must(t, err)
		equal(t, "root's parent", n.Parent, "")
		_, err = db.Node(bg, "nope")
		isErr(t, "Node(nope)", err, ErrNotFound)

		use("n0", 2, 0)
		use("n1", 1, 0)
		use("n3", 0, 0)
		mustTx(t, db, func(tx *Tx) error {
			return tx.CreateAssets(bg, []Asset{
				{ID: "a1", Name: "web-01", IP: "10.0.0.1", PlatformID: 1, IsActive: true, Nodes: []string{"n3"}, DateCreated: t0, DateUpdated: t0},
				{ID: "a2", Name: "web-02", IP: "10.0.0.2", PlatformID: 1, IsActive: true, Nodes: []string{"n3", "n2"}, DateCreated: t0, DateUpdated: t0},
			})
		})
		use("n3", 0, 2)
		use("n2", 0, 1)

		// Move web from ops to dev, and rename it.
		mustTx(t, db, func(tx *Tx) error {
			return tx.UpdateNode(bg, &Node{ID: "n3", Parent: "n2", Name: "frontend", DateUpdated: at(time.Hour)})
		})
		n, err = db.Node(bg, "n3")
		must(t, err)
		equal(t, "Node(n3) after move", n, Node{ID: "n3", Parent: "n2", Name: "frontend", DateCreated: t0, DateUpdated: at(time.Hour)})
		use("n1", 0, 0)
		use("n2", 1, 1)
		use("n3", 0, 2)

		// Moving under a node that does not exist fails and changes nothing.
		err = db.Tx(bg, func(tx *Tx) error {
			return tx.UpdateNode(bg, &Node{ID: "n3", Parent: "nope", Name: "lost", DateUpdated: at(2 * time.Hour)})
		})
		if err == nil {
			t.Error("UpdateNode to a missing parent succeeded")
		}
		n, err = db.Node(bg, "n3")
		must(t, err)
		equal(t, "Node(n3) after a failed move", n.Parent+"/"+n.Name, "n2/frontend")
		err = db.Tx(bg, func(tx *Tx) error { return tx.UpdateNode(bg, &Node{ID: "nope", Name: "x"}) })
		isErr(t, "UpdateNode(nope)", err, ErrNotFound)
		err = db.Tx(bg, func(tx *Tx) error {
			return tx.CreateNode(bg, &Node{ID: "n1", Name: "again", DateCreated: t0, DateUpdated: t0})
		})
		isErr(t, "CreateNode with a taken id", err, ErrConflict)

		// Lists.
		ns, cnt, err := db.Nodes(bg, parse(t, NodeSchema, "parent", "n0"))
		must(t, err)
		equal(t, "Nodes(parent=n0) count", cnt, 2)
		equal(t, "Nodes(parent=n0)", idsOf(ns, func(n Node) string { return n.Name }), []string{"dev", "ops"})
		ns, _, err = db.Nodes(bg, parse(t, NodeSchema, "parent__isnull", "true"))
		must(t, err)
		equal(t, "Nodes(root)", idsOf(ns, func(n Node) string { return n.ID }), []string{"n0"})
		all, err := db.AllNodes(bg)
		must(t, err)
		equal(t, "AllNodes count", len(all), 4)
		nn, err := db.NodeNames(bg, []string{"n3", "n0", "nope"})
		must(t, err)
		equal(t, "NodeNames", nn, map[string]string{"n3": "frontend", "n0": "root"})

		// Deleting a node removes it from permissions.
		mustTx(t, db, func(tx *Tx) error {
			return tx.CreatePermission(bg, &Permission{ID: "p1", Name: "p1", Actions: []string{"connect"}, IsActive: true,
				DateCreated: t0, DateUpdated: t0, Nodes: []string{"n1", "n2"}})
		})
		mustTx(t, db, func(tx *Tx) error { return tx.DeleteNode(bg, "n1") })
		_, err = db.Node(bg, "n1")
		isErr(t, "Node after delete", err, ErrNotFound)
		p, err := db.Permission(bg, "p1")
		must(t, err)
		equal(t, "permission nodes after a node was deleted", p.Nodes, []string{"n2"})
		err = db.Tx(bg, func(tx *Tx) error { return tx.DeleteNode(bg, "n1") })
		isErr(t, "DeleteNode twice", err, ErrNotFound)
	})
}

func TestAssets(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		inventoryFixture(t, db)
		web := Asset{ID: "a1", Name: "web-01", IP: "10.0.0.1", PlatformID: 1,
			Protocols: []Protocol{{Name: "ssh", Port: 2222}, {Name: "sftp", Port: 22}},
			Labels:    map[string]string{"env": "prod", "team": "web", "quote": `a "b" \c ü`},
			IsActive:  true, Comment: "front", CreatedBy: "admin", DateCreated: t0, DateUpdated: at(time.Second),
			Nodes: []string{"n3", "n1"}}
		db1 := Asset{ID: "a2", Name: "db-01", IP: "10.0.1.1", PlatformID: 1,
			Protocols: []Protocol{{Name: "ssh", Port: 22}}, Labels: map[string]string{},
			IsActive: false, DateCreated: at(time.Minute), DateUpdated: at(time.Minute), Nodes: []string{"n2"}}
		win := Asset{ID: "a3", Name: "win-01", IP: "10.0.2.1", PlatformID: 2,
			Protocols: []Protocol{{Name: "rdp", Port: 3389}}, IsActive: true,
			DateCreated: at(2 * time.Minute), DateUpdated: at(2 * time.Minute)}
		mustTx(t, db, func(tx *Tx) error { return tx.CreateAssets(bg, []Asset{web, db1, win}) })

		withSortedNodes := func(a Asset) Asset {
			a.Nodes = sortedCopy(a.Nodes)
			if len(a.Nodes) == 0 {
				a.Nodes = nil
			}
			return a
		}

		t.Run("round trip", func(t *testing.T) {
			for _, want := range []Asset{web, db1, win} {
				got, err := db.Asset(bg, want.ID)
				must(t, err)
				equal(t, "Asset("+want.ID+")", got, withSortedNodes(want))
			}
			_, err := db.Asset(bg, "nope")
			isErr(t, "Asset(nope)", err, ErrNotFound)
		})

		t.Run("bulk create is all or nothing", func(t *testing.T) {
			batch := []Asset{
				{ID: "b1", Name: "new-01", IP: "10.9.0.1", PlatformID: 1, Protocols: []Protocol{{Name: "ssh", Port: 22}}, Nodes: []string{"n1"}, DateCreated: t0, DateUpdated: t0},
				{ID: "b2", Name: "new-02", IP: "10.9.0.2", PlatformID: 1, Protocols: []Protocol{{Name: "ssh", Port: 22}}, DateCreated: t0, DateUpdated: t0},
				{ID: "b3", Name: "web-01", IP: "10.9.0.3", PlatformID: 1, Protocols: []Protocol{{Name: "ssh", Port: 22}}, DateCreated: t0, DateUpdated: t0},
			}
			err := db.Tx(bg, func(tx *Tx) error { return tx.CreateAssets(bg, batch) })
			isErr(t, "CreateAssets with a taken name", err, ErrConflict)
			// The same batch with a duplicate inside it.
			batch[2].Name = "new-01"
			err = db.Tx(bg, func(tx *Tx) error { return tx.CreateAssets(bg, batch) })
			isErr(t, "CreateAssets with a name twice", err, ErrConflict)
			// And with an unknown node on the last row.
			batch[2].Name, batch[2].Nodes = "new-03", []string{"no-such-node"}
			if err := db.Tx(bg, func(tx *Tx) error { return tx.CreateAssets(bg, batch) }); err == nil {
				t.Error("CreateAssets with an unknown node succeeded")
			}
			for _, id := range []string{"b1", "b2", "b3"} {
				_, err := db.Asset(bg, id)
				isErr(t, "asset "+id+" of a failed batch", err, ErrNotFound)
			}
			equal(t, "asset rows after failed batches", countRows(t, db, `SELECT COUNT(*) FROM assets`), 3)
			equal(t, "asset_nodes rows after failed batches", countRows(t, db, `SELECT COUNT(*) FROM asset_nodes`), 3)
			taken, err := db.AssetNames(bg, []string{"new-01", "new-02"})
			must(t, err)
			equal(t, "AssetNames of a failed batch", taken, map[string]bool{})
		})

		t.Run("AllAssets AssetsByID AssetNames", func(t *testing.T) {
			all, err := db.AllAssets(bg)
			must(t, err)
			sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
			for i := range all {
				all[i] = withSortedNodes(all[i])
			}
			equal(t, "AllAssets", all, []Asset{withSortedNodes(web), db1, win})

			some, err := db.AssetsByID(bg, []string{"a3", "nope", "a1"})
			must(t, err)
			sort.Slice(some, func(i, j int) bool { return some[i].ID < some[j].ID })
			equal(t, "AssetsByID", some, []Asset{withSortedNodes(web), win})
			none, err := db.AssetsByID(bg, nil)
			must(t, err)
			equal(t, "AssetsByID(nil)", len(none), 0)

			byID, err := db.AssetNamesByID(bg, []string{"a2", "nope", "a3"})
			must(t, err)
			equal(t, "AssetNamesByID", byID, map[string]string{"a2": "db-01", "a3": "win-01"})
			taken, err := db.AssetNames(bg, []string{"web-01", "nope", "win-01", "WEB-01"})
			must(t, err)
			equal(t, "AssetNames", taken, map[string]bool{"web-01": true, "win-01": true})
			miss, err := db.Missing(bg, "assets", []string{"a1", "a9"})
			must(t, err)
			equal(t, "Missing(assets)", miss, []string{"a9"})
		})

		t.Run("lists", func(t *testing.T) {
			check := func(name string, node string, want []string, kv ...string) {
				t.Helper()
				as, n, err := db.Assets(bg, parse(t, AssetSchema, kv...), node)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				equal(t, name+" count", n, len(want))
				if len(want) == 0 {
					want = nil
				}
				equal(t, name, assetIDs(as), want)
			}
			check("default by name", "", []string{"a2", "a1", "a3"})
			check("node", "n3", []string{"a1"})
			check("node with filter", "n2", nil, "is_active", "true")
			check("platform int filter", "", []string{"a3"}, "platform", "2")
			check("platform in", "", []string{"a2", "a1", "a3"}, "platform__in", "1,2")
			check("inactive", "", []string{"a2"}, "is_active", "false")
			check("search ip", "", []string{"a2"}, "search", "10.0.1.")
			check("ip startswith", "", []string{"a3", "a1"}, "ip__startswith", "10.0.", "order", "-date_created", "ip__ne", "10.0.1.1")
			as, _, err := db.Assets(bg, parse(t, AssetSchema, "name", "web-01"), "")
			must(t, err)
			if len(as) != 1 || !equalSets(as[0].Nodes, web.Nodes) {
				t.Errorf("Assets(name=web-01) nodes = %+v, want %v", as, web.Nodes)
			}
		})

		t.Run("update and delete", func(t *testing.T) {
			u := web
			u.Name, u.IP, u.PlatformID, u.IsActive = "web-01b", "10.0.0.11", 2, false
			u.Protocols = []Protocol{{Name: "rdp", Port: 3389}}
			u.Labels = map[string]string{"env": "staging"}
			u.Nodes = []string{"n2"}
			u.DateUpdated = at(time.Hour)
			mustTx(t, db, func(tx *Tx) error { return tx.UpdateAsset(bg, &u) })
			got, err := db.Asset(bg, "a1")
			must(t, err)
			equal(t, "Asset after update", got, u)
			c, a, err := db.NodeUse(bg, "n3")
			must(t, err)
			if c != 0 || a != 0 {
				t.Errorf("NodeUse(n3) after the asset left = %d, %d", c, a)
			}
			err = db.Tx(bg, func(tx *Tx) error { x := u; x.ID = "nope"; x.Name = "nope"; return tx.UpdateAsset(bg, &x) })
			isErr(t, "UpdateAsset(nope)", err, ErrNotFound)
			err = db.Tx(bg, func(tx *Tx) error { x := u; x.Name = "win-01"; return tx.UpdateAsset(bg, &x) })
			isErr(t, "UpdateAsset to a taken name", err, ErrConflict)

			mustTx(t, db, func(tx *Tx) error {
				return tx.CreatePermission(bg, &Permission{ID: "p1", Name: "p1", Actions: []string{"connect"}, IsActive: true,
					DateCreated: t0, DateUpdated: t0, Assets: []string{"a1", "a3"}})
			})
			mustTx(t, db, func(tx *Tx) error { return tx.DeleteAsset(bg, "a1") })
			_, err = db.Asset(bg, "a1")
			isErr(t, "Asset after delete", err, ErrNotFound)
			p, err := db.Permission(bg, "p1")
			must(t, err)
			equal(t, "permission assets after an asset was deleted", p.Assets, []string{"a3"})
			_, a, err = db.NodeUse(bg, "n2")
			must(t, err)
			equal(t, "NodeUse(n2) assets after delete", a, 1)
			err = db.Tx(bg, func(tx *Tx) error { return tx.DeleteAsset(bg, "a1") })
			isErr(t, "DeleteAsset twice", err, ErrNotFound)
		})
	})
}

func TestSystemUsers(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *DB) {
		root := SystemUser{ID: "s1", Name: "root-ssh", Username: "root", Protocol: "ssh", Password: "sealed:pw",
			PrivateKey: "sealed:key", Comment: "c", CreatedBy: "admin", DateCreated: t0, DateUpdated: t0}
		admin := SystemUser{ID: "s2", Name: "admin-rdp", Username: "Administrator", Protocol: "rdp", DateCreated: t0, DateUpdated: t0}
		mustTx(t, db, func(tx *Tx) error {
			if err := tx.CreateSystemUser(bg, &root); err != nil {
				return err
			}
			return tx.CreateSystemUser(bg, &admin)
		})
		got, err := db.SystemUser(bg, "s1")
		must(t, err)
		equal(t, "SystemUser(s1)", got, root)
		_, err = db.SystemUser(bg, "nope")
		isErr(t, "SystemUser(nope)", err, ErrNotFound)
		err = db.Tx(bg, func(tx *Tx) error { x := admin; x.ID = "s3"; return tx.CreateSystemUser(bg, &x) })
		isErr(t, "CreateSystemUser with a taken name", err, ErrConflict)

		root.Password, root.PrivateKey, root.Username, root.DateUpdated = "", "sealed:key2", "ubuntu", at(time.Hour)
		mustTx(t, db, func(tx *Tx) error { return tx.UpdateSystemUser(bg, &root) })
		got, err = db.SystemUser(bg, "s1")
		must(t, err)
		equal(t, "SystemUser(s1) after update", got, root)
		err = db.Tx(bg, func(tx *Tx) error { x := root; x.ID = "nope"; return tx.UpdateSystemUser(bg, &x) })
		isErr(t, "UpdateSystemUser(nope)", err, ErrNotFound)

		byID, err := db.SystemUsersByID(bg, []string{"s2", "nope"})
		must(t, err)
		equal(t, "SystemUsersByID", byID, map[string]SystemUser{"s2": admin})
		sn, err := db.SystemUserNames(bg, []string{"s1", "s2", "nope"})
		must(t, err)
		equal(t, "SystemUserNames", sn, map[string]string{"s1": "root-ssh", "s2": "admin-rdp"})
		list, n, err := db.SystemUsers(bg, parse(t, SystemUserSchema, "search", "ADMIN"))
		must(t, err)
		equal(t, "SystemUsers(search=ADMIN) count", n, 1)
		equal(t, "SystemUsers(search=ADMIN)", idsOf(list, func(s SystemUser) string { return s.ID }), []string{"s2"})
		list, _, err = db.SystemUsers(bg, parse(t, SystemUserSchema, "protocol__in", "ssh,rdp", "order", "-name"))
		must(t, err)
		equal(t, "SystemUsers(order=-name)", idsOf(list, func(s SystemUser) string { return s.ID }), []string{"s1", "s2"})

		mustTx(t, db, func(tx *Tx) error {
			return tx.CreatePermission(bg, &Permission{ID: "p1", Name: "p1", Actions: []string{"connect"}, IsActive: true,
				DateCreated: t0, DateUpdated: t0, SystemUsers: []string{"s1", "s2"}})
		})
		mustTx(t, db, func(tx *Tx) error { return tx.DeleteSystemUser(bg, "s1") })
		_, err = db.SystemUser(bg, "s1")
		isErr(t, "SystemUser after delete", err, ErrNotFound)
		p, err := db.Permission(bg, "p1")
		must(t, err)
		equal(t, "permission system users after delete", p.SystemUsers, []string{"s2"})
		err = db.Tx(bg, func(tx *Tx) error { return tx.DeleteSystemUser(bg, "s1") })
		isErr(t, "DeleteSystemUser twice", err, ErrNotFound)
	})
}

func equalSets(a, b []string) bool {
	a, b = sortedCopy(a), sortedCopy(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
