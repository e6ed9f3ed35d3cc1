// Command postern is the Postern bastion host: `postern serve` runs the
// whole product in one process, and the other subcommands administer it.
// This package only wires the parts together; the behaviour lives in
// internal/.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `postern — bastion host and privileged-access gateway

Usage:
  postern serve [flags]            run Postern (API, and later the SSH gateway)
  postern user create [flags]      create a user
  postern user passwd USERNAME     set a user's password (read from stdin or prompted)
  postern user unlock USERNAME     lift a lockout after repeated failed logins
  postern watch SESSION-ID         watch a live session (--url, --token or POSTERN_TOKEN)
  postern version                  print the version

Every flag can also be given as a POSTERN_* environment variable
(--data-dir is POSTERN_DATA_DIR). Run "postern COMMAND -h" for its flags.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:])
	case "user":
		err = userCmd(args[1:])
	case "watch":
		err = watch(args[1:])
	case "version", "--version", "-v":
		fmt.Println("postern", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "postern: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "postern:", err)
		return 1
	}
	return 0
}
