package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/throttle"
)

// Accounts is the accounts service the API needs (auth.Service).
type Accounts interface {
	Register(ctx context.Context, r auth.Registration) (movierec.User, auth.Tokens, error)
	Login(ctx context.Context, username, password string) (movierec.User, auth.Tokens, error)
	Refresh(ctx context.Context, refresh string) (auth.Tokens, error)
	Logout(ctx context.Context, refresh string) error
	Authenticate(ctx context.Context, token string) (auth.Principal, error)
	ChangePassword(ctx context.Context, p auth.Principal, oldPassword, newPassword string) error
	Forget(sessionID string)
}

// Profiles is the user data the profile endpoints read and write.
type Profiles interface {
	User(ctx context.Context, id int64) (movierec.User, error)
	UpdateUser(ctx context.Context, id int64, upd movierec.UserUpdate) (movierec.User, error)
	UserStats(ctx context.Context, userID int64) (movierec.UserStats, error)
}

var (
	errNotAuthenticated = movierec.Errorf(movierec.EUNAUTHORIZED, "Authentication credentials were not provided.")
	errStaffOnly        = movierec.Errorf(movierec.EFORBIDDEN, "You do not have permission to perform this action.")
)

// principal authenticates the request's bearer token. No Authorization
// header is errNotAuthenticated; a bad token is EUNAUTHORIZED too.
func (s *Server) principal(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, errNotAuthenticated
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Principal{}, movierec.Errorf(movierec.EUNAUTHORIZED, "Authorization must be \"Bearer <access token>\".")
	}
	return s.accounts.Authenticate(r.Context(), strings.TrimSpace(token))
}

// throttle applies the limiters to the request and sets their headers on
// w; a refusal is the 429 error to return.
func (s *Server) throttle(w http.ResponseWriter, pairs ...throttle.Pair) error {
	d := throttle.Check(pairs...)
	d.SetHeaders(w.Header())
	if d.Allowed {
		return nil
	}
	return movierec.Errorf(codeThrottled, "Request was throttled. Expected available in %d seconds.",
		int((d.RetryAfter+time.Second-1)/time.Second))
}

type userJSON struct {
	ID         int64     `json:"id"`
	Username   string    `json:"username"`
	Email      string    `json:"email"`
	FirstName  string    `json:"first_name"`
	LastName   string    `json:"last_name"`
	DateJoined time.Time `json:"date_joined"`
	IsStaff    bool      `json:"is_staff"`
}

func newUserJSON(u movierec.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName,
		LastName: u.LastName, DateJoined: u.DateJoined, IsStaff: u.IsStaff}
}

type tokensJSON struct {
	Access  string    `json:"access"`
	Refresh string    `json:"refresh"`
	User    *userJSON `json:"user,omitempty"`
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.throttle(w, throttle.Pair{L: s.limits.register, Key: s.clientIP(r)}); err != nil {
		return err
	}
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var reg auth.Registration
	b.str("username", &reg.Username, true, 150)
	b.str("email", &reg.Email, true, 254)
	b.rawString("password", &reg.Password)
	if b.has("password_confirm") {
		// The original API's sign-up form sends the password twice.
		var confirm string
		b.rawString("password_confirm", &confirm)
		if _, bad := b.errs["password_confirm"]; !bad && confirm != reg.Password {
			b.fail("password_confirm", "The two password fields didn't match.")
		}
	}
	b.str("first_name", &reg.FirstName, false, 150)
	b.str("last_name", &reg.LastName, false, 150)
	if err := b.err(); err != nil {
		return err
	}
	u, t, err := s.accounts.Register(r.Context(), reg)
	if err != nil {
		return err
	}
	uj := newUserJSON(u)
	writeJSON(w, http.StatusCreated, tokensJSON{Access: t.Access, Refresh: t.Refresh, User: &uj})
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var username, password string
	b.rawString("username", &username)
	b.rawString("password", &password)
	if err := b.err(); err != nil {
		return err
	}
	// Per address; per username from this address; and, looser, per
	// username from everywhere. Someone guessing from elsewhere uses up
	// their own address's allowance for the username, not the owner's: to
	// lock an account out they must spend UsernameLimitFactor times the
	// limit, from at least that many addresses, every window.
	ip, user := s.clientIP(r), strings.ToLower(strings.TrimSpace(username))
	if err := s.throttle(w, throttle.Pair{L: s.limits.loginAddr, Key: ip},
		throttle.Pair{L: s.limits.loginUserAddr, Key: user + "\x00" + ip},
		throttle.Pair{L: s.limits.loginUser, Key: user}); err != nil {
		return err
	}
	u, t, err := s.accounts.Login(r.Context(), username, password)
	if err != nil {
		return err
	}
	uj := newUserJSON(u)
	writeJSON(w, http.StatusOK, tokensJSON{Access: t.Access, Refresh: t.Refresh, User: &uj})
	return nil
}

// refreshBody reads the {"refresh": "..."} body of refresh and logout.
func (s *Server) refreshBody(w http.ResponseWriter, r *http.Request) (string, error) {
	w.Header().Set("Cache-Control", "no-store")
	b, err := readBody(w, r, false)
	if err != nil {
		return "", err
	}
	var refresh string
	b.rawString("refresh", &refresh)
	return refresh, b.err()
}

func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) error {
	refresh, err := s.refreshBody(w, r)
	if err != nil {
		return err
	}
	t, err := s.accounts.Refresh(r.Context(), refresh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokensJSON{Access: t.Access, Refresh: t.Refresh})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	refresh, err := s.refreshBody(w, r)
	if err != nil {
		return err
	}
	if err := s.accounts.Logout(r.Context(), refresh); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type profileJSON struct {
	userJSON
	FavoriteGenres     []string `json:"favorite_genres"`
	TotalRatings       int      `json:"total_ratings"`
	AverageRatingGiven *float64 `json:"average_rating_given"`
}

func (s *Server) writeProfile(w http.ResponseWriter, r *http.Request, u movierec.User) error {
	st, err := s.store.UserStats(r.Context(), u.ID)
	if err != nil {
		return err
	}
	p := profileJSON{userJSON: newUserJSON(u), FavoriteGenres: []string{}, TotalRatings: st.Ratings.Count}
	for _, g := range st.FavoriteGenres {
		p.FavoriteGenres = append(p.FavoriteGenres, g.Name)
	}
	if st.Ratings.Average != nil {
		avg := round2(*st.Ratings.Average)
		p.AverageRatingGiven = &avg
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	u, err := s.store.User(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	return s.writeProfile(w, r, u)
}

// updateProfile serves PUT (username and email required) and PATCH.
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	full := r.Method == http.MethodPut
	var upd movierec.UserUpdate
	var username, email, first, last string
	if b.str("username", &username, full, 150) {
		if msg := auth.ValidateUsername(username); msg != "" {
			b.fail("username", msg)
		}
		upd.Username = &username
	}
	if b.str("email", &email, full, 254) {
		if msg := auth.ValidateEmail(email); msg != "" {
			b.fail("email", msg)
		}
		upd.Email = &email
	}
	if b.str("first_name", &first, false, 150) || full {
		upd.FirstName = &first
	}
	if b.str("last_name", &last, false, 150) || full {
		upd.LastName = &last
	}
	b.readOnly("id", "date_joined", "is_staff", "favorite_genres", "total_ratings", "average_rating_given", "password")
	if err := b.err(); err != nil {
		return err
	}
	u, err := s.store.UpdateUser(r.Context(), p.UserID, upd)
	if err != nil {
		return err
	}
	s.accounts.Forget(p.SessionID) // the cached principal holds the old username
	return s.writeProfile(w, r, u)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var oldPw, newPw string
	b.rawString("old_password", &oldPw)
	b.rawString("new_password", &newPw)
	if err := b.err(); err != nil {
		return err
	}
	// Each attempt hashes the current password: with a stolen access token
	// it would otherwise be an unlimited password oracle, and a CPU sink.
	if err := s.throttle(w, throttle.Pair{L: s.limits.password, Key: strconv.FormatInt(p.UserID, 10)}); err != nil {
		return err
	}
	if err := s.accounts.ChangePassword(r.Context(), p, oldPw, newPw); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
