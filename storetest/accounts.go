package storetest

import (
	"crypto/rand"
	"testing"

	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/sqlstore"
)

// CheapArgon2 makes password hashing fast for tests; production uses
// auth.DefaultArgon2.
var CheapArgon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}

// Accounts returns an accounts service on s with a random signing key and
// cheap password hashing.
func Accounts(tb testing.TB, s *sqlstore.Store) *auth.Service {
	tb.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	svc, err := auth.New(s, key, auth.NewHasher(CheapArgon2))
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}
