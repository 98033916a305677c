package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

func setup(t *testing.T) (*auth.Service, *sqlstore.Store, *time.Time) {
	s := storetest.OpenSQLite(t)
	svc := storetest.Accounts(t, s)
	now := time.Now()
	svc.SetClock(func() time.Time { return now })
	return svc, s, &now
}

func register(t *testing.T, svc *auth.Service, name string) (movierec.User, auth.Tokens) {
	t.Helper()
	u, tok, err := svc.Register(context.Background(), auth.Registration{Username: name, Email: name + "@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

func wantUnauthorized(t *testing.T, what string, err error) {
	t.Helper()
	if movierec.ErrorCode(err) != movierec.EUNAUTHORIZED {
		t.Errorf("%s: got %v, want NOT_AUTHENTICATED", what, err)
	}
}

func TestPasswordHashing(t *testing.T) {
	h := auth.NewHasher(storetest.CheapArgon2)
	hash, err := h.Hash("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not PHC argon2id", hash)
	}
	other, _ := h.Hash("s3cret-pass")
	if other == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"s3cret-pass": true, "s3cret-pasS": false, "": false} {
		if got := h.Check(hash, pw); got != want {
			t.Errorf("Check(%q) = %v", pw, got)
		}
	}
	// A hash made with other parameters still checks: they are encoded in it.
	if !auth.NewHasher(auth.DefaultArgon2).Check(hash, "s3cret-pass") {
		t.Error("a hash with older parameters no longer checks")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=x$a$b", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5"} {
		if h.Check(bad, "s3cret-pass") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	svc, _, _ := setup(t)
	register(t, svc, "taken")
	cases := []struct {
		name  string
		reg   auth.Registration
		field string
	}{
		{"ShortUsername", auth.Registration{Username: "ab", Email: "a@example.com", Password: "correct horse"}, "username"},
		{"BadUsername", auth.Registration{Username: "with space", Email: "a@example.com", Password: "correct horse"}, "username"},
		{"BadEmail", auth.Registration{Username: "newbie", Email: "not-an-email", Password: "correct horse"}, "email"},
		{"ShortPassword", auth.Registration{Username: "newbie", Email: "a@example.com", Password: "short"}, "password"},
		{"NumericPassword", auth.Registration{Username: "newbie", Email: "a@example.com", Password: "12345678901"}, "password"},
		{"PasswordIsUsername", auth.Registration{Username: "newbie123", Email: "a@example.com", Password: "NEWBIE123"}, "password"},
		{"TakenUsername", auth.Registration{Username: "TAKEN", Email: "a@example.com", Password: "correct horse"}, "username"},
		{"TakenEmail", auth.Registration{Username: "newbie", Email: "Taken@Example.com", Password: "correct horse"}, "email"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := svc.Register(context.Background(), c.reg)
			if movierec.ErrorCode(err) != movierec.EINVALID || len(movierec.ErrorDetails(err)[c.field]) == 0 {
				t.Errorf("got %v (%v), want a validation error on %s", err, movierec.ErrorDetails(err), c.field)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	svc, s, _ := setup(t)
	ctx := context.Background()
	u, _ := register(t, svc, "frank")
	got, tok, err := svc.Login(ctx, "FRANK", "correct horse")
	if err != nil || got.ID != u.ID || tok.Access == "" || tok.Refresh == "" {
		t.Fatalf("Login = %+v, %+v, %v", got, tok, err)
	}
	_, _, wrongPw := svc.Login(ctx, "frank", "wrong horse")
	_, _, noUser := svc.Login(ctx, "nobody", "correct horse")
	if movierec.ErrorCode(wrongPw) != movierec.EUNAUTHORIZED || movierec.ErrorMessage(wrongPw) != movierec.ErrorMessage(noUser) ||
		movierec.ErrorCode(noUser) != movierec.EUNAUTHORIZED {
		t.Errorf("wrong password %v and unknown user %v must fail alike", wrongPw, noUser)
	}
	// Imported accounts have no password and cannot log in.
	if _, err := s.CreateUser(ctx, movierec.User{Username: "movielens_1", IsActive: true}); err != nil {
		t.Fatal(err)
	}
	_, _, err = svc.Login(ctx, "movielens_1", "")
	wantUnauthorized(t, "passwordless account", err)
}

func TestAccessTokens(t *testing.T) {
	svc, _, now := setup(t)
	ctx := context.Background()
	u, tok := register(t, svc, "grace")
	p, err := svc.Authenticate(ctx, tok.Access)
	if err != nil || p.UserID != u.ID || p.Username != "grace" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	t.Run("ErrTampered", func(t *testing.T) {
		// Claim to be another user, keeping the signature.
		parts := strings.Split(tok.Access, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		other := strings.Replace(string(payload), fmt.Sprintf(`"user_id":%d`, u.ID), fmt.Sprintf(`"user_id":%d`, u.ID+1), 1)
		if other == string(payload) {
			t.Fatalf("payload %s names no user_id", payload)
		}
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(other)) + "." + parts[2]
		_, err = svc.Authenticate(ctx, forged)
		wantUnauthorized(t, "tampered payload", err)
		_, err = svc.Authenticate(ctx, tok.Access[:len(tok.Access)-2]+"AA")
		wantUnauthorized(t, "tampered signature", err)
		_, err = svc.Authenticate(ctx, "garbage")
		wantUnauthorized(t, "garbage", err)
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		other := storetest.Accounts(t, storetest.OpenSQLite(t))
		_, err := other.Authenticate(ctx, tok.Access)
		wantUnauthorized(t, "token signed with another key", err)
	})
	t.Run("ErrExpired", func(t *testing.T) {
		*now = now.Add(auth.AccessTTL + time.Second)
		_, err := svc.Authenticate(ctx, tok.Access)
		wantUnauthorized(t, "expired token", err)
	})
}

// jwtClaims decodes a JWT's payload without checking it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", tok)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokensAreSimpleJWTs: both tokens are HS256 JWTs with SimpleJWT's
// claims (token_type, exp, iat, jti, user_id) and the contract's
// lifetimes; one type is never accepted as the other; "alg":"none" and a
// forged signature are refused; tokens of the format before JWTs still
// work until they expire.
func TestTokensAreSimpleJWTs(t *testing.T) {
	const testKey = "0123456789abcdef0123456789abcdef"
	svc, err := auth.New(storetest.OpenSQLite(t), []byte(testKey), auth.NewHasher(storetest.CheapArgon2))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	svc.SetClock(func() time.Time { return now })
	ctx := context.Background()
	u, tok := register(t, svc, "simplejwt")
	for _, c := range []struct {
		tok, typ string
		ttl      time.Duration
	}{{tok.Access, "access", auth.AccessTTL}, {tok.Refresh, "refresh", auth.RefreshTTL}} {
		header := strings.Split(c.tok, ".")[0]
		if h, _ := base64.RawURLEncoding.DecodeString(header); !strings.Contains(string(h), `"alg":"HS256"`) {
			t.Errorf("%s token header %s", c.typ, h)
		}
		claims := jwtClaims(t, c.tok)
		exp, _ := claims["exp"].(float64)
		iat, _ := claims["iat"].(float64)
		jti, _ := claims["jti"].(string)
		if claims["token_type"] != c.typ || claims["user_id"] != float64(u.ID) || jti == "" ||
			time.Duration(exp-iat)*time.Second != c.ttl || int64(iat) != now.Unix() {
			t.Errorf("%s token claims %v", c.typ, claims)
		}
	}
	if jwtClaims(t, tok.Access)["jti"] == jwtClaims(t, tok.Refresh)["jti"] {
		t.Errorf("access and refresh tokens share a jti")
	}
	_, err = svc.Authenticate(ctx, tok.Refresh)
	wantUnauthorized(t, "refresh token used as an access token", err)
	_, err = svc.Refresh(ctx, tok.Access)
	wantUnauthorized(t, "access token used as a refresh token", err)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(tok.Access, ".")[1] + "."
	_, err = svc.Authenticate(ctx, none)
	wantUnauthorized(t, `"alg":"none" token`, err)

	// Before JWTs: "mra1." access tokens and "<sid>.<secret>" refresh
	// tokens of live sessions.
	rc := jwtClaims(t, tok.Refresh)
	sid, secret := rc["sid"].(string), rc["jti"].(string)
	body, _ := json.Marshal(map[string]any{"sub": u.ID, "sid": sid, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	payload := base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, []byte(testKey))
	m.Write([]byte("mra1." + payload))
	legacy := "mra1." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if p, err := svc.Authenticate(ctx, legacy); err != nil || p.UserID != u.ID {
		t.Errorf("legacy access token: %+v %v", p, err)
	}
	next, err := svc.Refresh(ctx, sid+"."+secret)
	if err != nil || len(strings.Split(next.Refresh, ".")) != 3 {
		t.Fatalf("legacy refresh token: %+v %v", next, err)
	}
	if _, err := svc.Authenticate(ctx, next.Access); err != nil {
		t.Errorf("access token from a legacy refresh: %v", err)
	}
	_, err = svc.Refresh(ctx, tok.Refresh) // rotated out by the legacy refresh
	wantUnauthorized(t, "rotated-out refresh token", err)
}

func TestRefreshAndLogout(t *testing.T) {
	svc, _, _ := setup(t)
	ctx := context.Background()
	_, tok := register(t, svc, "heidi")
	next, err := svc.Refresh(ctx, tok.Refresh)
	if err != nil || next.Refresh == tok.Refresh {
		t.Fatalf("Refresh = %+v, %v", next, err)
	}
	if _, err := svc.Authenticate(ctx, next.Access); err != nil {
		t.Errorf("new access token: %v", err)
	}
	t.Run("ErrReuseEndsSession", func(t *testing.T) {
		_, err := svc.Refresh(ctx, tok.Refresh) // the rotated-out token
		wantUnauthorized(t, "reused refresh token", err)
		_, err = svc.Refresh(ctx, next.Refresh)
		wantUnauthorized(t, "refresh after reuse was detected", err)
		_, err = svc.Authenticate(ctx, next.Access)
		wantUnauthorized(t, "access token after reuse was detected", err)
	})
	t.Run("LogoutRevokesAccess", func(t *testing.T) {
		_, fresh, err := svc.Login(ctx, "heidi", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, fresh.Access); err != nil {
			t.Fatal(err)
		}
		if err := svc.Logout(ctx, fresh.Refresh); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(ctx, fresh.Access)
		wantUnauthorized(t, "access token after logout", err)
		_, err = svc.Refresh(ctx, fresh.Refresh)
		wantUnauthorized(t, "refresh token after logout", err)
		wantUnauthorized(t, "second logout", svc.Logout(ctx, fresh.Refresh))
	})
	t.Run("GuessedSecretDoesNotEndSession", func(t *testing.T) {
		_, fresh, err := svc.Login(ctx, "heidi", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		sid, _, _ := strings.Cut(fresh.Refresh, ".")
		_, err = svc.Refresh(ctx, sid+".guessed")
		wantUnauthorized(t, "a guessed secret", err)
		if _, err := svc.Authenticate(ctx, fresh.Access); err != nil {
			t.Errorf("a stranger's guess ended the session: %v", err)
		}
		if _, err := svc.Refresh(ctx, fresh.Refresh); err != nil {
			t.Errorf("the real refresh token after a guess: %v", err)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, bad := range []string{"", "nodot", "unknown.secret", "."} {
			_, err := svc.Refresh(ctx, bad)
			wantUnauthorized(t, "refresh "+bad, err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	svc, _, _ := setup(t)
	ctx := context.Background()
	_, first := register(t, svc, "ivan")
	_, second, err := svc.Login(ctx, "ivan", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, second.Access)
	if err != nil {
		t.Fatal(err)
	}
	err = svc.ChangePassword(ctx, p, "wrong", "battery staple")
	if len(movierec.ErrorDetails(err)["old_password"]) == 0 {
		t.Errorf("wrong old password: %v", err)
	}
	err = svc.ChangePassword(ctx, p, "correct horse", "short")
	if len(movierec.ErrorDetails(err)["new_password"]) == 0 {
		t.Errorf("weak new password: %v", err)
	}
	if err := svc.ChangePassword(ctx, p, "correct horse", "battery staple"); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, first.Access)
	wantUnauthorized(t, "other session's access token", err)
	_, err = svc.Refresh(ctx, first.Refresh)
	wantUnauthorized(t, "other session's refresh token", err)
	if _, err := svc.Authenticate(ctx, second.Access); err != nil {
		t.Errorf("the session that changed the password ended: %v", err)
	}
	_, _, err = svc.Login(ctx, "ivan", "correct horse")
	wantUnauthorized(t, "old password", err)
	if _, _, err := svc.Login(ctx, "ivan", "battery staple"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

// BenchmarkLogin measures a login with the production argon2id parameters
// (run with -cpu 2 -benchtime to taste; in parallel it shows the latency
// of concurrent logins).
func BenchmarkLogin(b *testing.B) {
	s := storetest.OpenSQLite(b)
	svc, err := auth.New(s, []byte(strings.Repeat("k", 32)), auth.NewHasher(auth.DefaultArgon2))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := svc.Register(ctx, auth.Registration{Username: "bench", Email: "bench@example.com", Password: "correct horse"}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(5) // 10 concurrent logins on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := svc.Login(ctx, "bench", "correct horse"); err != nil {
				b.Error(err)
			}
		}
	})
}

// TestDatabaseCopyCannotForgeTokens: someone holding a copy of the
// database and the token signing key can sign tokens, but the sessions
// table keeps only SHA-256 keys of session IDs, so no token they make
// names a live session. (The same forging code with the real session ID,
// which only tokens carry, is accepted: the forgery itself is right.)
func TestDatabaseCopyCannotForgeTokens(t *testing.T) {
	s := storetest.OpenSQLite(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	svc, err := auth.New(s, key, auth.NewHasher(storetest.CheapArgon2))
	if err != nil {
		t.Fatal(err)
	}
	u, tok := register(t, svc, "mallory-target")
	forge := func(sid string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"token_type": "access", "user_id": u.ID, "sid": sid,
			"jti": "forged", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	rows, err := s.Conn().Query(context.Background(), `SELECT id FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, id)
	}
	rows.Close()
	if len(stored) != 1 {
		t.Fatalf("%d sessions stored, want 1", len(stored))
	}
	if strings.Contains(tok.Refresh, stored[0]) || strings.Contains(tok.Access, stored[0]) {
		t.Fatal("the stored session ID appears in the tokens: it is the ID itself, not its hash")
	}
	fresh, err := auth.New(s, key, auth.NewHasher(storetest.CheapArgon2)) // no cached sessions
	if err != nil {
		t.Fatal(err)
	}
	_, err = fresh.Authenticate(context.Background(), forge(stored[0]))
	wantUnauthorized(t, "token forged from the database copy", err)
	sid, _ := jwtClaims(t, tok.Refresh)["sid"].(string)
	if p, err := fresh.Authenticate(context.Background(), forge(sid)); err != nil || p.UserID != u.ID {
		t.Errorf("token forged with the real session ID: %+v, %v (the forgery code is wrong)", p, err)
	}
}

// TestRevocationsCrossInstances: two instances (services with one key, on
// one database) each cache a session once checked; a logout on one, and
// a password change on one, end the sessions on the other at once instead
// of after SessionCacheTTL, through Redis pub/sub, or PostgreSQL's
// LISTEN/NOTIFY when there is no Redis.
func TestRevocationsCrossInstances(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		client, prefix := storetest.Redis(t)
		checkRevocationsCross(t, storetest.OpenSQLite(t), func() auth.Bus {
			c, err := cache.New(cache.Options{Redis: client, Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
	})
	t.Run("postgres", func(t *testing.T) {
		s := storetest.OpenPostgres(t)
		checkRevocationsCross(t, s, func() auth.Bus {
			b, err := postgres.NewBus(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		})
	})
}

func checkRevocationsCross(t *testing.T, s *sqlstore.Store, newBus func() auth.Bus) {
	key := []byte("0123456789abcdef0123456789abcdef")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	instance := func() *auth.Service {
		svc, err := auth.New(s, key, auth.NewHasher(storetest.CheapArgon2))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.ShareRevocations(ctx, newBus()); err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := instance(), instance()
	_, tok := register(t, a, "rosa")
	// ended waits until b refuses tok, failing after far longer than the
	// bus needs but far less than SessionCacheTTL.
	ended := func(what, access string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := b.Authenticate(ctx, access); err != nil {
				wantUnauthorized(t, what, err)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the other instance still accepts the access token (cached session)", what)
			}
		}
	}
	if _, err := b.Authenticate(ctx, tok.Access); err != nil { // b caches the session
		t.Fatal(err)
	}
	if err := a.Logout(ctx, tok.Refresh); err != nil {
		t.Fatal(err)
	}
	ended("after logout on the other instance", tok.Access)

	u, first, err := a.Login(ctx, "rosa", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := a.Login(ctx, "rosa", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []auth.Tokens{first, second} {
		if _, err := b.Authenticate(ctx, tk.Access); err != nil {
			t.Fatal(err)
		}
	}
	p, err := a.Authenticate(ctx, second.Access)
	if err != nil || p.UserID != u.ID {
		t.Fatal(p, err)
	}
	if err := a.ChangePassword(ctx, p, "correct horse", "battery staple horse"); err != nil {
		t.Fatal(err)
	}
	ended("the other session after a password change", first.Access)
	if _, err := b.Authenticate(ctx, second.Access); err != nil {
		t.Errorf("the session that changed the password, on the other instance: %v", err)
	}
}

// BenchmarkAuthenticate is the check every authenticated request makes
// with a token seen before and a warm session: no JWT parse, no query.
func BenchmarkAuthenticate(b *testing.B) {
	s := storetest.OpenSQLite(b)
	svc := storetest.Accounts(b, s)
	_, tok, err := svc.Register(context.Background(), auth.Registration{Username: "bench", Email: "bench@example.com", Password: "correct horse"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Authenticate(ctx, tok.Access); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, tok.Access); err != nil {
			b.Fatal(err)
		}
	}
}
