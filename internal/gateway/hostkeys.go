package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// LoadHostKeys returns the gateway's host keys from dir, generating an
// ed25519 key and, for old clients, an RSA key on first use. They are
// written once (mode 0600) and reused, so operators' known_hosts entries
// stay valid across restarts.
func LoadHostKeys(dir string) ([]ssh.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var out []ssh.Signer
	for _, k := range []struct {
		file string
		gen  func() (*pem.Block, error)
	}{
		{"ssh_host_ed25519_key", genEd25519},
		{"ssh_host_rsa_key", genRSA},
	} {
		path := filepath.Join(dir, k.file)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			block, gerr := k.gen()
			if gerr != nil {
				return nil, fmt.Errorf("generate %s: %w", k.file, gerr)
			}
			data = pem.EncodeToMemory(block)
			if err := writeNew(path, data); err != nil {
				if !errors.Is(err, os.ErrExist) {
					return nil, err
				}
				// Another process wrote it first: use theirs.
				if data, err = os.ReadFile(path); err != nil {
					return nil, err
				}
			}
		} else if err != nil {
			return nil, fmt.Errorf("read host key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		out = append(out, signer)
	}
	return out, nil
}

func genEd25519() (*pem.Block, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.MarshalPrivateKey(priv, "postern host key")
}

func genRSA() (*pem.Block, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, err
	}
	return &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}, nil
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
