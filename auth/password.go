package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters of new password hashes.
// Old hashes keep the parameters encoded in them.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
}

// DefaultArgon2 costs about 15 ms of one core on the 2-core reference
// machine (12 MiB, 2 passes): ten concurrent logins answer in ~72 ms at the
// median and under 200 ms at the 99th percentile. Larger machines should
// raise Time or Memory (MOVIEREC_ARGON2_TIME, MOVIEREC_ARGON2_MEMORY_KIB).
var DefaultArgon2 = Argon2Params{Memory: 12 * 1024, Time: 2, Threads: 1, KeyLen: 32}

// Hasher hashes and checks passwords with argon2id. At most one hash runs
// per CPU at a time, which bounds the memory a burst of logins takes.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
}

// NewHasher returns a Hasher using p for new hashes.
func NewHasher(p Argon2Params) *Hasher {
	return &Hasher{params: p, slots: make(chan struct{}, runtime.NumCPU())}
}

func (h *Hasher) key(password string, salt []byte, p Argon2Params) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Hash returns the PHC-encoded argon2id hash of password with a fresh
// salt: $argon2id$v=19$m=12288,t=3,p=1$salt$key.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := h.params
	key := h.key(password, salt, p)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64(salt), b64(key)), nil
}

// Check reports whether password matches encoded. An empty or malformed
// hash matches nothing.
func (h *Hasher) Check(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	p.KeyLen = uint32(len(want))
	return subtle.ConstantTimeCompare(h.key(password, salt, p), want) == 1
}
