package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// claims are what an access token asserts.
type claims struct {
	UserID    int64  `json:"sub"`
	SessionID string `json:"sid"`
	IssuedAt  int64  `json:"iat"`
	Expires   int64  `json:"exp"`
}

var errBadToken = errors.New("auth: malformed or forged token")

const accessPrefix = "mra1."

// signer makes and checks HMAC-SHA256 signed access tokens:
// "mra1." + base64url(claims JSON) + "." + base64url(MAC).
type signer struct{ key []byte }

func (s signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(accessPrefix + payload))
	return m.Sum(nil)
}

func (s signer) sign(c claims) string {
	body, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return accessPrefix + payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// verify checks the signature and expiry of tok at now.
func (s signer) verify(tok string, now time.Time) (claims, error) {
	var c claims
	rest, ok := strings.CutPrefix(tok, accessPrefix)
	if !ok {
		return c, errBadToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return c, errBadToken
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &c) != nil || c.SessionID == "" {
		return c, errBadToken
	}
	if now.Unix() >= c.Expires {
		return c, errors.New("auth: token expired")
	}
	return c, nil
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// refreshHash is how a refresh token's secret is stored.
func refreshHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// A refresh token is "<session id>.<secret>": the id finds the session, the
// secret proves possession.
func splitRefresh(tok string) (sid, secret string, ok bool) {
	sid, secret, ok = strings.Cut(tok, ".")
	return sid, secret, ok && sid != "" && secret != ""
}
