// Package vault seals and opens the secrets Postern keeps for targets
// (system user passwords and private keys) and for users (TOTP seeds), with
// AES-256-GCM under a master key that never enters the database.
//
// A sealed value is text: "v1:" followed by base64 of nonce||ciphertext.
// The record's identity is bound in as additional data, so a sealed value
// copied from one row to another does not open.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the master key length in bytes.
const KeySize = 32

const prefix = "v1:"

// ErrOpen is returned for a sealed value that does not open under the key:
// a different master key, a corrupted value, or one moved between records.
var ErrOpen = errors.New("vault: secret does not open under this master key")

// Vault seals and opens secrets.
type Vault struct {
	aead cipher.AEAD
}

// New returns a vault for a 32-byte master key.
func New(key []byte) (*Vault, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("vault: master key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Vault{aead: aead}, nil
}

// Seal encrypts plaintext bound to context (such as "system_user:ID:password").
// An empty plaintext seals to "" so that "no secret" stays visible as such.
func (v *Vault) Seal(plaintext, context string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := v.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return prefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context.
func (v *Vault) Open(sealed, context string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(raw) < v.aead.NonceSize() {
		return "", ErrOpen
	}
	ns := v.aead.NonceSize()
	pt, err := v.aead.Open(nil, raw[:ns], raw[ns:], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}

// ParseKey reads a master key given as 64 hex digits or standard base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("master key must be %d bytes as 64 hex digits or base64", KeySize)
}

// LoadOrCreateKey returns the master key stored in path, creating it with
// mode 0600 when the file does not exist. A key file readable by others is
// refused: the key opens every credential Postern holds.
func LoadOrCreateKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return LoadOrCreateKey(path)
			}
			return nil, fmt.Errorf("create master key: %w", err)
		}
		if _, err := fmt.Fprintf(f, "%x\n", key); err != nil {
			f.Close()
			return nil, fmt.Errorf("write master key: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	return ParseKey(string(data))
}
