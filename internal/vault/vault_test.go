package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testVault(t *testing.T) *Vault {
	t.Helper()
	v, err := New([]byte(strings.Repeat("k", KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpen(t *testing.T) {
	v := testVault(t)
	s, err := v.Seal("hunter2", "system_user:1:password")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "hunter2") || !strings.HasPrefix(s, "v1:") {
		t.Fatalf("sealed value %q leaks or lacks prefix", s)
	}
	s2, _ := v.Seal("hunter2", "system_user:1:password")
	if s == s2 {
		t.Fatal("two seals of one secret are equal: nonce reuse")
	}
	got, err := v.Open(s, "system_user:1:password")
	if err != nil || got != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := v.Open(s, "system_user:2:password"); err != ErrOpen {
		t.Fatalf("value moved to another record opened: %v", err)
	}
	other, _ := New([]byte(strings.Repeat("x", KeySize)))
	if _, err := other.Open(s, "system_user:1:password"); err != ErrOpen {
		t.Fatalf("value opened under another key: %v", err)
	}
	if _, err := v.Open("v1:!!!", "c"); err != ErrOpen {
		t.Fatalf("garbage opened: %v", err)
	}
	if e, _ := v.Seal("", "c"); e != "" {
		t.Fatal("empty secret should seal to empty")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("key not stable across loads: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("world-readable key accepted")
	}
}

func TestParseKey(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	if k, err := ParseKey(hex); err != nil || len(k) != 32 || k[0] != 0xab {
		t.Fatalf("hex key: %v", err)
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("short key accepted")
	}
}
