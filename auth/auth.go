// Package auth runs accounts: registration, login with argon2id passwords,
// signed access tokens, rotating refresh tokens, logout and password
// changes. Access tokens name their session; a cache of live sessions makes
// checking them free of database round trips once warm, and revocation by
// this instance takes effect at once.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maypok86/otter/v2"

	"github.com/movierec/movierec"
)

// Token lifetimes, from the API contract.
const (
	AccessTTL  = 60 * time.Minute
	RefreshTTL = 7 * 24 * time.Hour
)

// verifiedTokens bounds the access tokens whose checked claims are kept
// (about half a kilobyte each).
const verifiedTokens = 20_000

// SessionCacheTTL bounds how long a session checked by one instance is
// trusted without asking the database again; it is how long a revocation
// made through another instance can take to be seen here.
const SessionCacheTTL = 60 * time.Second

// Store is what the accounts service needs from storage.
type Store interface {
	CreateUser(ctx context.Context, u movierec.User) (movierec.User, error)
	User(ctx context.Context, id int64) (movierec.User, error)
	UserByUsername(ctx context.Context, username string) (movierec.User, error)
	SetPassword(ctx context.Context, userID int64, hash, keepSession string) ([]string, error)
	CreateSession(ctx context.Context, s movierec.Session) error
	Session(ctx context.Context, id string) (movierec.Session, error)
	RotateRefresh(ctx context.Context, id, oldHash, newHash string, expires time.Time) (bool, error)
	RevokeSession(ctx context.Context, id string) error
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    int64
	Username  string
	IsStaff   bool
	SessionID string
}

// Tokens is a freshly issued access and refresh token pair.
type Tokens struct {
	Access  string
	Refresh string
}

// Service is the accounts service.
type Service struct {
	store    Store
	hasher   *Hasher
	signer   signer
	now      func() time.Time
	sessions *otter.Cache[string, Principal]
	// verified keeps the claims of access tokens whose signature was
	// checked, by token: parsing a JWT costs more than the rest of a warm
	// check (BenchmarkAuthenticate). Expiry is still checked every time.
	verified *otter.Cache[string, claims]
	dummy    string // a hash to check against when the user does not exist
	bus      Bus    // tells other instances about revocations (nil: none)
}

// Bus carries messages between the instances of a deployment (cache.Cache
// over Redis pub/sub).
type Bus interface {
	Publish(ctx context.Context, channel, msg string) error
	// Subscribe calls fn with each message until ctx ends, and with ""
	// when messages may have been lost.
	Subscribe(ctx context.Context, channel string, fn func(msg string)) error
}

// revokedChannel carries the keys of sessions that ended or changed.
const revokedChannel = "sessions:revoked"

// ShareRevocations makes revocations cross instances through bus: when a
// session ends (logout, password change, a reused refresh token) or its
// user changes, every instance drops its cached copy at once instead of
// within SessionCacheTTL. When the bus lost messages, every cached session
// is dropped. Call it before serving; it returns once subscribed (an
// error then means revocations from other instances may take up to
// SessionCacheTTL until the bus recovers).
func (s *Service) ShareRevocations(ctx context.Context, bus Bus) error {
	s.bus = bus
	return bus.Subscribe(ctx, revokedChannel, func(key string) {
		if key == "" {
			s.sessions.InvalidateAll()
			return
		}
		s.sessions.Invalidate(key)
	})
}

// forget drops sessions from the cache here and, through the bus, on the
// other instances.
func (s *Service) forget(ctx context.Context, keys ...string) {
	for _, k := range keys {
		s.sessions.Invalidate(k)
		if s.bus != nil {
			s.bus.Publish(ctx, revokedChannel, k) // a failure leaves SessionCacheTTL as the bound
		}
	}
}

// New returns the accounts service. key signs access tokens (at least 32
// bytes); instances sharing a database must share it.
func New(store Store, key []byte, hasher *Hasher) (*Service, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: signing key shorter than 32 bytes")
	}
	cache, err := otter.New(&otter.Options[string, Principal]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryWriting[string, Principal](SessionCacheTTL),
	})
	if err != nil {
		return nil, err
	}
	dummy, err := hasher.Hash(randomToken(12))
	if err != nil {
		return nil, err
	}
	verified, err := otter.New(&otter.Options[string, claims]{
		MaximumSize:      verifiedTokens,
		ExpiryCalculator: otter.ExpiryWriting[string, claims](AccessTTL),
	})
	if err != nil {
		return nil, err
	}
	return &Service{store: store, hasher: hasher, signer: newSigner(key), now: time.Now, sessions: cache,
		verified: verified, dummy: dummy}, nil
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Hasher returns the password hasher (the CLI sets passwords with it).
func (s *Service) Hasher() *Hasher { return s.hasher }

var errCredentials = movierec.Errorf(movierec.EUNAUTHORIZED, "Invalid username or password.")

func errToken(msg string) error { return movierec.Errorf(movierec.EUNAUTHORIZED, "%s", msg) }

// Registration is what a new user sends.
type Registration struct {
	Username, Email, Password string
	FirstName, LastName       string
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9@.+_-]{3,150}$`)

// ValidateUsername returns a message when name is not an acceptable
// username ("" when it is).
func ValidateUsername(name string) string {
	if !usernamePattern.MatchString(name) {
		return "must be 3 to 150 characters: letters, digits and @ . + - _"
	}
	return ""
}

// ValidateEmail returns a message when addr is not an acceptable email.
func ValidateEmail(addr string) string {
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr || len(addr) > 254 || !strings.Contains(addr, ".") {
		return "must be a valid email address"
	}
	return ""
}

// ValidatePassword returns a message when pw is too weak for username.
func ValidatePassword(pw, username string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < 8:
		return "must be at least 8 characters"
	case n > 128:
		return "must be at most 128 characters"
	case strings.Trim(pw, "0123456789") == "":
		return "must not be entirely numeric"
	case username != "" && strings.EqualFold(pw, username):
		return "must differ from the username"
	}
	return ""
}

// validation collects field errors.
type validation map[string][]string

func (v validation) check(field, msg string) {
	if msg != "" {
		v[field] = append(v[field], msg)
	}
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	return &movierec.Error{Code: movierec.EINVALID, Message: "Invalid input data.", Details: v}
}

// Register creates an account and logs it in. Bad or taken fields are an
// EINVALID error naming each field.
func (s *Service) Register(ctx context.Context, r Registration) (movierec.User, Tokens, error) {
	r.Username, r.Email = strings.TrimSpace(r.Username), strings.TrimSpace(r.Email)
	v := validation{}
	v.check("username", ValidateUsername(r.Username))
	v.check("email", ValidateEmail(r.Email))
	v.check("password", ValidatePassword(r.Password, r.Username))
	v.check("first_name", maxLen(r.FirstName, 150))
	v.check("last_name", maxLen(r.LastName, 150))
	if err := v.err(); err != nil {
		return movierec.User{}, Tokens{}, err
	}
	hash, err := s.hasher.Hash(r.Password)
	if err != nil {
		return movierec.User{}, Tokens{}, err
	}
	u, err := s.store.CreateUser(ctx, movierec.User{Username: r.Username, Email: r.Email, PasswordHash: hash,
		FirstName: r.FirstName, LastName: r.LastName, IsActive: true})
	if err != nil {
		return movierec.User{}, Tokens{}, err
	}
	t, err := s.startSession(ctx, u)
	return u, t, err
}

func maxLen(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return fmt.Sprintf("must be at most %d characters", n)
	}
	return ""
}

// Login checks a username and password and starts a session. Every
// failure is the same EUNAUTHORIZED error, and takes as long, whether or
// not the user exists.
func (s *Service) Login(ctx context.Context, username, password string) (movierec.User, Tokens, error) {
	u, err := s.store.UserByUsername(ctx, strings.TrimSpace(username))
	if err != nil && !errors.Is(err, movierec.ErrNotFound) {
		return u, Tokens{}, err
	}
	hash := u.PasswordHash
	if err != nil || hash == "" || !u.IsActive {
		s.hasher.Check(s.dummy, password) // same work as a real check
		return movierec.User{}, Tokens{}, errCredentials
	}
	if !s.hasher.Check(hash, password) {
		return movierec.User{}, Tokens{}, errCredentials
	}
	t, err := s.startSession(ctx, u)
	return u, t, err
}

func (s *Service) startSession(ctx context.Context, u movierec.User) (Tokens, error) {
	now := s.now()
	secret, sid := randomToken(32), randomToken(16)
	// The store keeps the ID's SessionKey only; so do the cache and
	// Principal.SessionID. Tokens carry the ID.
	sess := movierec.Session{ID: movierec.SessionKey(sid), UserID: u.ID, RefreshHash: refreshHash(secret),
		CreatedAt: now, ExpiresAt: now.Add(RefreshTTL)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Tokens{}, err
	}
	s.sessions.Set(sess.ID, Principal{UserID: u.ID, Username: u.Username, IsStaff: u.IsStaff, SessionID: sess.ID})
	return s.tokens(u.ID, sid, secret, now), nil
}

// tokens are the JWT pair of a session (see claims): the access token
// with a fresh jti, the refresh token with the session's refresh secret.
func (s *Service) tokens(userID int64, sid, secret string, now time.Time) Tokens {
	return Tokens{Access: s.signer.sign(typeAccess, userID, sid, randomToken(16), now, AccessTTL),
		Refresh: s.signer.sign(typeRefresh, userID, sid, secret, now, RefreshTTL)}
}

// Authenticate checks an access token: signature, expiry, and that its
// session is live. Once a session is cached this costs no database query.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	now := s.now()
	c, ok := s.verified.GetIfPresent(token)
	if !ok {
		var err error
		if c, err = s.signer.verify(token, typeAccess, now); err != nil {
			return Principal{}, errToken("Invalid or expired token.")
		}
		s.verified.Set(token, c)
	} else if !now.Before(c.ExpiresAt.Time) {
		return Principal{}, errToken("Invalid or expired token.")
	}
	key := movierec.SessionKey(c.SessionID)
	if p, ok := s.sessions.GetIfPresent(key); ok {
		return p, nil
	}
	sess, err := s.store.Session(ctx, key)
	if errors.Is(err, movierec.ErrNotFound) {
		return Principal{}, errToken("Invalid or expired token.")
	} else if err != nil {
		return Principal{}, err
	}
	if sess.RevokedAt != nil || !s.now().Before(sess.ExpiresAt) || sess.UserID != c.UserID {
		return Principal{}, errToken("Session has ended; log in again.")
	}
	u, err := s.store.User(ctx, sess.UserID)
	if err != nil {
		return Principal{}, err
	}
	if !u.IsActive {
		return Principal{}, errToken("Account is disabled.")
	}
	p := Principal{UserID: u.ID, Username: u.Username, IsStaff: u.IsStaff, SessionID: sess.ID}
	s.sessions.Set(sess.ID, p)
	return p, nil
}

// Refresh exchanges a refresh token for a new pair; the old refresh token
// stops working. Presenting an already rotated token ends the session (it
// may have been stolen).
func (s *Service) Refresh(ctx context.Context, refresh string) (Tokens, error) {
	sess, secret, err := s.liveSession(ctx, refresh)
	if err != nil {
		return Tokens{}, err
	}
	sid, _, _ := s.signer.refreshParts(refresh, s.now())
	newSecret := randomToken(32)
	now := s.now()
	ok, err := s.store.RotateRefresh(ctx, sess.ID, refreshHash(secret), refreshHash(newSecret), now.Add(RefreshTTL))
	if err != nil {
		return Tokens{}, err
	}
	if !ok { // rotated concurrently with the same token: treat as reuse
		return Tokens{}, s.revoke(ctx, sess.ID, "Refresh token already used.")
	}
	return s.tokens(sess.UserID, sid, newSecret, now), nil
}

// liveSession finds the session of a refresh token and checks it.
func (s *Service) liveSession(ctx context.Context, refresh string) (movierec.Session, string, error) {
	sid, secret, ok := s.signer.refreshParts(refresh, s.now())
	if !ok {
		return movierec.Session{}, "", errToken("Invalid refresh token.")
	}
	sess, err := s.store.Session(ctx, movierec.SessionKey(sid))
	if errors.Is(err, movierec.ErrNotFound) {
		return sess, "", errToken("Invalid refresh token.")
	} else if err != nil {
		return sess, "", err
	}
	if sess.RevokedAt != nil || !s.now().Before(sess.ExpiresAt) {
		return sess, "", errToken("Session has ended; log in again.")
	}
	switch h := refreshHash(secret); {
	case h == sess.RefreshHash:
	case h == sess.PreviousRefreshHash:
		// A rotated-out token again: it may have been stolen, so the
		// session ends for everyone holding it.
		return sess, "", s.revoke(ctx, sess.ID, "Refresh token already used.")
	default:
		// A wrong secret proves nothing; it must not end someone's session.
		return sess, "", errToken("Invalid refresh token.")
	}
	return sess, secret, nil
}

// revoke ends a session and returns an EUNAUTHORIZED error with msg.
func (s *Service) revoke(ctx context.Context, sid, msg string) error {
	if err := s.store.RevokeSession(ctx, sid); err != nil {
		return err
	}
	s.forget(ctx, sid)
	return errToken(msg)
}

// Logout ends the session of a refresh token, and with it the session's
// access tokens.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	sess, _, err := s.liveSession(ctx, refresh)
	if err != nil {
		return err
	}
	if err := s.store.RevokeSession(ctx, sess.ID); err != nil {
		return err
	}
	s.forget(ctx, sess.ID)
	return nil
}

// ChangePassword checks the old password, stores the new one and ends
// every other session of the user.
func (s *Service) ChangePassword(ctx context.Context, p Principal, oldPassword, newPassword string) error {
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return err
	}
	v := validation{}
	if !s.hasher.Check(u.PasswordHash, oldPassword) {
		v.check("old_password", "is not your current password")
	}
	v.check("new_password", ValidatePassword(newPassword, u.Username))
	if err := v.err(); err != nil {
		return err
	}
	return s.SetPassword(ctx, u.ID, newPassword, p.SessionID)
}

// SetPassword stores a new password for the user (validated by the
// caller) and ends every session but keep ("" ends all).
func (s *Service) SetPassword(ctx context.Context, userID int64, password, keep string) error {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return err
	}
	revoked, err := s.store.SetPassword(ctx, userID, hash, keep)
	if err != nil {
		return err
	}
	s.forget(ctx, revoked...)
	return nil
}

// Forget drops a user's cached sessions' details (after a profile change,
// so the next request sees the new username or staff flag).
func (s *Service) Forget(sessionID string) { s.forget(context.Background(), sessionID) }
