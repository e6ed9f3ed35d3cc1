package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
)

// cliActor is who the operate log names for changes made with the CLI.
var cliActor = audit.Actor{Username: "cli", RemoteAddr: "local"}

// userCmd administers users directly in the database, so it works whether
// or not a server is running (SQLite in WAL mode and PostgreSQL both allow
// it). It is how an operator recovers a locked-out administrator.
func userCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("user: expected create, passwd or unlock")
	}
	switch args[0] {
	case "create":
		return userCreate(args[1:])
	case "passwd":
		return userPasswd(args[1:])
	case "unlock":
		return userUnlock(args[1:])
	}
	return fmt.Errorf("user: unknown command %q (create, passwd, unlock)", args[0])
}

func userCreate(args []string) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	var c common
	c.flags(fs)
	username := fs.String("username", "", "login name (required)")
	name := fs.String("name", "", "display name (default: the username)")
	email := fs.String("email", "", "email address")
	role := fs.String("role", "user", "admin, auditor or user")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input (default: generate and print one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" && fs.NArg() == 1 {
		*username = fs.Arg(0)
	}
	if *username == "" {
		return errors.New("user create: --username is required")
	}
	pw, generated := "", false
	if *passwordStdin {
		var err error
		if pw, err = readPassword(os.Stdin); err != nil {
			return err
		}
	} else {
		pw, generated = identity.RandomPassword(20), true
	}
	ctx := context.Background()
	k, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer k.Close()
	f := identity.UserFields{Username: username, Email: email, Role: role, Password: &pw}
	if *name != "" {
		f.Name = name
	}
	u, err := k.identity.CreateUser(ctx, cliActor, f)
	if err != nil {
		return explain(err)
	}
	fmt.Printf("created user %s (%s, id %s)\n", u.Username, u.Role, u.ID)
	if generated {
		fmt.Printf("password: %s\n", pw)
	}
	return nil
}

func userPasswd(args []string) error {
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	var c common
	c.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("user passwd: give exactly one USERNAME; the new password is read from standard input")
	}
	if isTerminal(os.Stdin) {
		fmt.Fprint(os.Stderr, "new password (input is shown; pipe it in to hide it): ")
	}
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	k, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer k.Close()
	u, err := k.db.UserByUsername(ctx, fs.Arg(0))
	if err != nil {
		return explain(fault.NotFoundOr(err, "user "+fs.Arg(0)))
	}
	if err := k.identity.SetPassword(ctx, cliActor, u.ID, pw); err != nil {
		return explain(err)
	}
	fmt.Printf("password of %s changed; their API tokens were revoked\n", u.Username)
	return nil
}

func userUnlock(args []string) error {
	fs := flag.NewFlagSet("user unlock", flag.ContinueOnError)
	var c common
	c.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("user unlock: give exactly one USERNAME")
	}
	ctx := context.Background()
	k, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer k.Close()
	u, err := k.db.UserByUsername(ctx, fs.Arg(0))
	if err != nil {
		return explain(fault.NotFoundOr(err, "user "+fs.Arg(0)))
	}
	if err := k.identity.Unlock(ctx, cliActor, u.ID); err != nil {
		return explain(err)
	}
	fmt.Printf("%s unlocked\n", u.Username)
	return nil
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// explain turns a domain refusal into a one-line message.
func explain(err error) error {
	if e := fault.As(err); e != nil {
		return errors.New(e.Error())
	}
	return err
}
