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

	"github.com/golang-jwt/jwt/v5"
)

// Token types, in the token_type claim (SimpleJWT's names).
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
)

// claims are what a token asserts. Both tokens are JWTs signed with HS256
// and carry the claims the original API's SimpleJWT clients read:
// token_type, exp, iat, jti and user_id. sid names the session (the ID
// itself; the store keeps only its SHA-256, see movierec.SessionKey). In
// a refresh token the jti is the session's current refresh secret: the
// store keeps its hash, and rotation replaces it, so a rotated-out refresh
// token stops working although its signature stays valid.
type claims struct {
	TokenType string `json:"token_type"`
	jwt.RegisteredClaims
	UserID    int64  `json:"user_id"`
	SessionID string `json:"sid"`
}

var errBadToken = errors.New("auth: malformed or forged token")

// legacyAccessPrefix starts the access tokens of versions before JWTs
// ("mra1." + base64url(claims JSON) + "." + base64url(MAC)); they are
// accepted until they expire (AccessTTL after such a version last ran).
const legacyAccessPrefix = "mra1."

// signer makes and checks the tokens.
type signer struct {
	key    []byte
	parser *jwt.Parser
}

func newSigner(key []byte) signer {
	// The algorithm is pinned: a token naming another one ("none", RS256
	// with the key as a public key) is refused before any check.
	// Expiry is checked by verify, on the service's clock.
	return signer{key: key, parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation())}
}

// sign makes a token of the given type for a session, issued at now and
// living ttl.
func (s signer) sign(typ string, userID int64, sid, jti string, now time.Time, ttl time.Duration) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{TokenType: typ, UserID: userID, SessionID: sid,
		RegisteredClaims: jwt.RegisteredClaims{ID: jti, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
	}).SignedString(s.key)
	if err != nil {
		panic("auth: signing a token: " + err.Error()) // HS256 with a []byte key does not fail
	}
	return tok
}

// verify checks a token's signature, type and expiry at now.
func (s signer) verify(tok, typ string, now time.Time) (claims, error) {
	if typ == typeAccess && strings.HasPrefix(tok, legacyAccessPrefix) {
		return s.verifyLegacy(tok, now)
	}
	var c claims
	if _, err := s.parser.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return c, errBadToken
	}
	if c.TokenType != typ || c.SessionID == "" || c.ExpiresAt == nil {
		return c, errBadToken
	}
	if !now.Before(c.ExpiresAt.Time) {
		return c, errors.New("auth: token expired")
	}
	return c, nil
}

// verifyLegacy checks an access token of the format before JWTs.
func (s signer) verifyLegacy(tok string, now time.Time) (claims, error) {
	var c claims
	payload, sig, ok := strings.Cut(strings.TrimPrefix(tok, legacyAccessPrefix), ".")
	if !ok {
		return c, errBadToken
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(legacyAccessPrefix + payload))
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, m.Sum(nil)) {
		return c, errBadToken
	}
	var old struct {
		UserID    int64  `json:"sub"`
		SessionID string `json:"sid"`
		Expires   int64  `json:"exp"`
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &old) != nil || old.SessionID == "" {
		return c, errBadToken
	}
	if now.Unix() >= old.Expires {
		return c, errors.New("auth: token expired")
	}
	return claims{TokenType: typeAccess, UserID: old.UserID, SessionID: old.SessionID,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Unix(old.Expires, 0))}}, nil
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

// refreshParts returns the session ID and secret of a refresh token: a
// JWT's sid and jti, or, from versions before JWTs, "<session id>.<secret>"
// (accepted until those sessions expire, RefreshTTL after such a version
// last ran).
func (s signer) refreshParts(tok string, now time.Time) (sid, secret string, ok bool) {
	if strings.Count(tok, ".") == 1 {
		sid, secret, ok = strings.Cut(tok, ".")
		return sid, secret, ok && sid != "" && secret != ""
	}
	c, err := s.verify(tok, typeRefresh, now)
	if err != nil || c.ID == "" {
		return "", "", false
	}
	return c.SessionID, c.ID, true
}
