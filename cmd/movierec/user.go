package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
)

// userCommand runs "movierec user create|set-password". fs has parsed the
// flags before the subcommand (-db); the subcommand's own flags are added
// to it and parsed from what follows.
func userCommand(ctx context.Context, cfg config, fs *flag.FlagSet, stdin io.Reader, stdout, stderr io.Writer) error {
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: want: movierec user create|set-password --username NAME ...", errUsage)
	}
	sub, rest := rest[0], rest[1:]
	var username, email string
	var staff bool
	switch sub {
	case "create":
		fs.StringVar(&username, "username", "", "username of the new account")
		fs.StringVar(&email, "email", "", "email of the new account")
		fs.BoolVar(&staff, "staff", false, "make the account staff")
	case "set-password":
		fs.StringVar(&username, "username", "", "username of the account")
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown user command %q (want create or set-password)", errUsage, sub)
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: user %s: unexpected argument %q", errUsage, sub, fs.Arg(0))
	}
	// -db may also follow the subcommand; cfg is a copy, so take it again.
	cfg.DatabaseURL = fs.Lookup("db").Value.String()
	username, email = strings.TrimSpace(username), strings.TrimSpace(email)
	if username == "" {
		return fmt.Errorf("%w: user %s: --username is required", errUsage, sub)
	}
	if sub == "create" {
		if email == "" {
			return fmt.Errorf("%w: user create: --email is required", errUsage)
		}
		return createUser(ctx, cfg, username, email, staff, stdin, stdout, stderr)
	}
	return setUserPassword(ctx, cfg, username, stdin, stdout, stderr)
}

// createUser validates and stores a new active account.
func createUser(ctx context.Context, cfg config, username, email string, staff bool, stdin io.Reader, stdout, stderr io.Writer) error {
	var problems []string
	if msg := auth.ValidateUsername(username); msg != "" {
		problems = append(problems, fmt.Sprintf("username %q: %s", username, msg))
	}
	if msg := auth.ValidateEmail(email); msg != "" {
		problems = append(problems, fmt.Sprintf("email %q: %s", email, msg))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	// Fail on a taken username before asking for a password; CreateUser
	// checks again, and checks the email.
	if u, err := store.UserByUsername(ctx, username); err == nil {
		return fmt.Errorf("username: a user named %q already exists", u.Username)
	} else if !errors.Is(err, movierec.ErrNotFound) {
		return err
	}
	password, err := readPassword(ctx, stdin, stderr)
	if err != nil {
		return err
	}
	if msg := auth.ValidatePassword(password, username); msg != "" {
		return fmt.Errorf("password: %s", msg)
	}
	accounts, err := newAccounts(ctx, cfg, store)
	if err != nil {
		return err
	}
	hash, err := accounts.Hasher().Hash(password)
	if err != nil {
		return err
	}
	u, err := store.CreateUser(ctx, movierec.User{Username: username, Email: email, PasswordHash: hash, IsStaff: staff, IsActive: true})
	if err != nil {
		return fieldMessage(err)
	}
	kind := "user"
	if u.IsStaff {
		kind = "staff user"
	}
	fmt.Fprintf(stdout, "created %s %s (id %d)\n", kind, u.Username, u.ID)
	return nil
}

// setUserPassword stores a new password and ends every session of the user.
func setUserPassword(ctx context.Context, cfg config, username string, stdin io.Reader, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByUsername(ctx, username)
	if errors.Is(err, movierec.ErrNotFound) {
		return fmt.Errorf("no user named %q", username)
	} else if err != nil {
		return err
	}
	password, err := readPassword(ctx, stdin, stderr)
	if err != nil {
		return err
	}
	if msg := auth.ValidatePassword(password, u.Username); msg != "" {
		return fmt.Errorf("password: %s", msg)
	}
	accounts, err := newAccounts(ctx, cfg, store)
	if err != nil {
		return err
	}
	if err := accounts.SetPassword(ctx, u.ID, password, ""); err != nil {
		if errors.Is(err, movierec.ErrNotFound) { // deleted meanwhile
			return fmt.Errorf("no user named %q", username)
		}
		return err
	}
	fmt.Fprintf(stdout, "password changed for %s (id %d); all of their sessions have ended\n", u.Username, u.ID)
	return nil
}

// maxPasswordLine bounds how much of stdin is read for a password. Any
// line this long is over ValidatePassword's 128 characters.
const maxPasswordLine = 4096

// readPassword reads a password: prompted for twice without echo when
// stdin is a terminal, else the first line of stdin (line ending removed).
func readPassword(ctx context.Context, stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err := promptPassword(ctx, f, stderr, "Password: ")
		if err != nil {
			return "", err
		}
		again, err := promptPassword(ctx, f, stderr, "Password (again): ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", errors.New("password: the two entries do not match")
		}
		return pw, nil
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, maxPasswordLine)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("password: reading stdin: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("password: none given (pipe it as the first line of stdin, or run in a terminal to be prompted)")
	}
	return line, nil
}

// promptPassword reads one password from the terminal f without echo. An
// interrupt (ctx cancelled) restores the terminal and gives up.
func promptPassword(ctx context.Context, f *os.File, stderr io.Writer, prompt string) (string, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	fmt.Fprint(stderr, prompt)
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(stderr)
		if r.err != nil {
			return "", fmt.Errorf("password: %w", r.err)
		}
		return string(r.pw), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state) // ReadPassword is still blocked; the process is about to exit
		fmt.Fprintln(stderr)
		return "", errors.New("password: interrupted")
	}
}

// fieldMessage turns a validation error with per-field details into a
// message naming each field ("username: A user with that ... exists.").
func fieldMessage(err error) error {
	if movierec.ErrorCode(err) != movierec.EINVALID {
		return err
	}
	details := movierec.ErrorDetails(err)
	if len(details) == 0 {
		return errors.New(movierec.ErrorMessage(err))
	}
	fields := make([]string, 0, len(details))
	for f := range details {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var parts []string
	for _, f := range fields {
		parts = append(parts, f+": "+strings.Join(details[f], " "))
	}
	return errors.New(strings.Join(parts, "; "))
}
