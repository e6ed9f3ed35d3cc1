// Package sshtest gives tests a real OpenSSH target and a way to drive the
// real OpenSSH clients, so that every test of Postern's SSH gateway runs
// against the same programs operators and target machines use in
// production, never only against in-process fakes.
//
// It is test support: import it only from _test.go files.
//
// # What it needs
//
// Require checks for /usr/sbin/sshd and the ssh, sftp, scp and ssh-keygen
// clients (Debian's openssh-server and openssh-client). When they are
// missing and the test runs as root on a machine with apt-get, it installs
// them once per test binary. When they are still missing the test is
// skipped with a loud reason, or fails when POSTERN_E2E=required (as in CI).
//
// # Targets
//
// StartTarget runs /usr/sbin/sshd -D on a free port of 127.0.0.1 with a
// configuration, host key, authorized_keys file and pid file of its own in
// a fresh directory. What the target offers depends on who runs the test:
//
//   - As root (CI, the project's machines) each target gets a throwaway
//     local user (pst followed by random hex) with a random password,
//     created with useradd and removed with userdel when the test ends.
//     Password logins go through PAM (UsePAM yes), as on a stock Debian
//     server; key logins work too.
//   - Not as root, sshd serves the current user only, with UsePAM no and
//     key logins only: Target.Password is empty. The sessions see
//     HOME=Target.Home (a directory of the target's own, set through sshd's
//     SetEnv) so that the user's own dotfiles stay out of the way, but
//     they still start in the user's real home directory, and WithShell
//     is not available (tests that use it are skipped). Sessions with a
//     PTY also need new pseudo-terminals to belong to group tty (devpts
//     mounted with gid=5, as usual): an sshd not run as root cannot chown
//     them and drops the session.
//
// In both cases the home directory holds a minimal .profile and .bashrc
// that set PS1='$ ' (and PS2='> '), an .inputrc that turns bash's
// bracketed-paste mode off, and a .hushlogin that keeps PAM's message of
// the day out, so an interactive session shows nothing but its prompt,
// always the two characters "$ " with no escape sequences around it.
//
// # Clients
//
// SSH starts the real ssh client in a pseudo-terminal and returns a Client
// to Expect output from, Send keystrokes to and Resize. Exec and
// Invocation.Run run a client without a terminal, feeding a password
// through SSH_ASKPASS. All of them pass BaseArgs, which keep the user's and
// the machine's ssh configuration and known_hosts files out of the test.
// ClientKey makes a key pair for key logins.
//
// A test of an interactive session, as root:
//
//	tg := sshtest.StartTarget(t)
//	c := sshtest.SSH(t, tg.SSHArgs()...)
//	c.Expect("password:", 0)
//	c.SendLine(tg.Password)
//	c.Expect(`\$ $`, 0)
//	c.SendLine("echo hi-$((1+2))")
//	c.Expect("hi-3", 0)
//
// and of a command, with a key, as anyone:
//
//	key, pub := sshtest.ClientKey(t)
//	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
//	out, code := sshtest.Exec(t, "", append([]string{"-i", key}, append(tg.SSHArgs(), "id -un")...)...)
//
// Tests may run in parallel, each with targets of its own.
package sshtest
