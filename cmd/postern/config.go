package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/vault"
)

// common are the settings every subcommand that opens the data needs.
type common struct {
	dataDir      string
	db           string
	tokenTTL     time.Duration
	lockAttempts int
	lockWindow   time.Duration
}

func (c *common) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "./postern-data", "directory for the database, master key and recordings")
	fs.StringVar(&c.db, "db", "", "SQLite file path or postgres:// URL (default: DATA-DIR/postern.db)")
	fs.DurationVar(&c.tokenTTL, "token-ttl", 30*24*time.Hour, "lifetime of API tokens")
	fs.IntVar(&c.lockAttempts, "lock-attempts", 7, "failed logins within --lock-window that lock an account")
	fs.DurationVar(&c.lockWindow, "lock-window", 30*time.Minute, "window for counting failed logins, and how long a lock lasts")
}

// parseFlags parses args after applying POSTERN_* environment variables
// as defaults, so that flags given on the command line win.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		env := "POSTERN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q: %v", env, v, err))
			}
		}
	})
	if len(bad) > 0 {
		return errors.New("bad environment: " + strings.Join(bad, "; "))
	}
	return fs.Parse(args)
}

// core is the opened data: the store and the domain services over it.
type core struct {
	db        *store.DB
	vault     *vault.Vault
	identity  *identity.Service
	inventory *inventory.Service
	access    *access.Service
	filters   *cmdfilter.Service
}

func (c *core) Close() { c.db.Close() }

// open prepares the data directory, the master key and the database, and
// builds the services. It refuses to run with a master key that does not
// open the secrets already stored.
func open(ctx context.Context, c common) (*core, error) {
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	key, err := masterKey(c.dataDir)
	if err != nil {
		return nil, err
	}
	v, err := vault.New(key)
	if err != nil {
		return nil, err
	}
	dsn := c.db
	if dsn == "" {
		dsn = filepath.Join(c.dataDir, "postern.db")
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := checkKey(ctx, db, v); err != nil {
		db.Close()
		return nil, err
	}
	acc, err := access.NewService(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	id := identity.New(db, v, identity.Config{TokenTTL: c.tokenTTL, LockAttempts: c.lockAttempts, LockWindow: c.lockWindow}, acc)
	inv := inventory.New(db, v, acc)
	if err := inv.Bootstrap(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("bootstrap inventory: %w", err)
	}
	if err := acc.Reload(ctx); err != nil { // the root node may be new
		db.Close()
		return nil, err
	}
	filters, err := cmdfilter.New(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load command filters: %w", err)
	}
	return &core{db: db, vault: v, identity: id, inventory: inv, access: acc, filters: filters}, nil
}

func masterKey(dataDir string) ([]byte, error) {
	if s := os.Getenv("POSTERN_MASTER_KEY"); s != "" {
		return vault.ParseKey(s)
	}
	return vault.LoadOrCreateKey(filepath.Join(dataDir, "master.key"))
}

// checkKey seals a known value on first start and opens it on every later
// one, so a wrong master key stops Postern at once instead of failing
// later on every credential.
func checkKey(ctx context.Context, db *store.DB, v *vault.Vault) error {
	probe, err := v.Seal("postern", "vault-check")
	if err != nil {
		return err
	}
	stored, err := db.SetMetaOnce(ctx, "vault_check", probe)
	if err != nil {
		return err
	}
	if _, err := v.Open(stored, "vault-check"); err != nil {
		return errors.New("the master key does not match this database (check POSTERN_MASTER_KEY or DATA-DIR/master.key)")
	}
	return nil
}
