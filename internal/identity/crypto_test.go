package identity

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	if CheckPassword(h, "correct horsE") || CheckPassword("", "") || CheckPassword("$argon2id$garbage", "x") {
		t.Fatal("wrong password or bad hash accepted")
	}
}

// RFC 6238 appendix B vectors (SHA1, 8 digits there; we use the low 6).
func TestTOTPVectors(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, c := range []struct {
		unix int64
		want string // last 6 digits of the RFC's 8-digit values
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := TOTPCode(secret, time.Unix(c.unix, 0))
		if err != nil || got != c.want {
			t.Errorf("t=%d: got %s, want %s (%v)", c.unix, got, c.want, err)
		}
	}
}

func TestVerifyTOTPSkew(t *testing.T) {
	s := NewTOTPSecret()
	now := time.Unix(1_700_000_000, 0)
	code, _ := TOTPCode(s, now.Add(-30*time.Second))
	if _, ok := VerifyTOTP(s, code, now); !ok {
		t.Fatal("code from previous step refused")
	}
	old, _ := TOTPCode(s, now.Add(-90*time.Second))
	if _, ok := VerifyTOTP(s, old, now); ok {
		t.Fatal("code three steps old accepted")
	}
	if _, ok := VerifyTOTP(s, "12345", now); ok {
		t.Fatal("short code accepted")
	}
}
