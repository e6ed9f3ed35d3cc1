// Package termaudit tells which command lines an operator ran in an
// interactive terminal session, for the audit log and for a command filter
// of Postern's SSH gateway.
//
// The gateway hands an Auditor both byte streams of a session: what the
// operator types (Input) and what the target's terminal sends back
// (Output), plus window changes (Resize). Rather than log keystrokes, the
// Auditor runs the output through a small terminal emulator (the part of
// xterm that shells and common full-screen programs use) and reads each
// command line off the emulated screen when the shell takes it. So what it
// records is what the shell ran, after line editing (backspace, Ctrl-U,
// Ctrl-W, Ctrl-K, arrows, Home and End, insertions), tab completion,
// history recall (arrows, Ctrl-R), wide characters and lines that wrap
// past the terminal's width. The typed bytes themselves are never recorded.
//
// # How lines are found
//
//   - Logical lines: rows joined by auto-wrap (the cursor running past the
//     last column) make one logical line, however the shell moves about
//     in it.
//   - Prompt: when the operator types the first key of a line, the text of
//     the logical line left of the cursor is the prompt the shell waits
//     at; text set apart on its right is a right-hand prompt.
//   - Command: after Enter, the shell ends the line: a line feed, or a
//     cursor movement below the line (zsh, when the row below is in use).
//     Just before that, the logical line at the cursor, less the prompt
//     and trailing blanks, is the command line. bash's reverse search
//     display is recognised. Lines a shell reads as one command (an open
//     quote, a here-document, a trailing pipe, an unfinished if or loop)
//     are joined with "\n" as long as the shell shows a prompt other than
//     its usual one for them.
//   - No echo: text typed at a prompt that does not echo (passwords,
//     read -s) never reaches the screen, so it is never a command. When the
//     shell answers such an Enter with no line feed but a new prompt on the
//     same line, that Enter is dropped.
//   - Full-screen programs: while the alternate screen is active (vim,
//     less...), keys and Enter are the program's and are ignored; the
//     command that started the program is recorded as usual. Programs that
//     draw on the main screen (top) reposition the cursor or clear the
//     screen, which no line editor does in answer to Enter: an Enter
//     followed by that is dropped.
//   - Output: after a command line, the output up to the next prompt (the
//     next line's first key) is kept, at most Options.OutputLimit bytes,
//     without escape sequences, and without lines a lone CR overwrote.
//
// Exec records the command of an exec request as it is.
//
// Output costs little next to a session's own path (see the benchmarks:
// gigabytes per second on bulk text read in 32 KiB pieces, hundreds of
// megabytes per second on small pieces and coloured text): long stretches
// without escape sequences that scroll off the screen are skipped rather
// than drawn.
//
// # What it is not
//
// It is an audit aid, not a sandbox and not a security boundary. It sees
// what a terminal shows, so it records what a shell's line editor
// displays, and cannot see what programs do with their input:
//
//   - Lines typed to any line-reading program (a REPL, a database client,
//     cat, an answer to a y/n question) are recorded like commands, and
//     lines typed ahead while a command still runs are recorded when the
//     terminal driver echoes them.
//   - Commands run without being typed (scripts, aliases and functions,
//     files uploaded and executed) appear only as what was typed.
//   - Text a shell draws in its own way can be recorded differently: a
//     line longer than the whole screen loses the part scrolled off, a
//     prompt that changes while a line is edited makes the whole line
//     (prompt included) the command, and multi-line pastes into a shell
//     with bracketed paste are taken line by line as the shell shows them.
//   - The terminal driver of shells without a line editor (dash) erases a
//     double-width character as if it took one column; the emulator copes
//     with the usual case, not with every mix of edits.
//   - Screens larger than MaxCols by MaxRows are emulated at that size.
//
// A command filter built on Pending narrows what operators do by accident
// or in routine work; it does not contain an operator set on evading it.
package termaudit
