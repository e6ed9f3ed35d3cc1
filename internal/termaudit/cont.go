package termaudit

import "strings"

// incomplete reports whether a POSIX shell reading text would ask for more
// lines before running it: an open quote, a backslash at the end, a pipe
// or && or || at the end, an unfinished here-document, or an if, case,
// loop, brace group or parenthesis not closed yet. It is a lexer's guess,
// not a parser: the Auditor checks it against the prompt the shell shows
// next (see Auditor.submit).
func incomplete(text string) bool {
	var (
		quote     byte // 0, '\'', '"', '`', or 'c' for $'...'
		depth     int  // open if, case, loops and brace groups
		cases     int  // open case statements, where ")" ends a pattern
		parens    int
		heredocs  []string // delimiters of here-documents still open
		heredocIn bool     // the lines being read are here-document bodies
		cont      bool     // the last line ended with a backslash
		trailOp   bool     // the text ends with |, && or ||
		word      strings.Builder
		cmdStart  = true
	)
	endWord := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		trailOp = false
		if !cmdStart {
			return
		}
		switch w {
		case "if", "while", "until", "for", "select", "{":
			depth++
		case "case":
			depth++
			cases++
			cmdStart = false
			return
		case "fi", "done", "}":
			depth = max(depth-1, 0)
		case "esac":
			depth = max(depth-1, 0)
			cases = max(cases-1, 0)
		case "then", "do", "else", "elif", "!", "time":
			return
		}
		if w != "{" && w != "}" && w != "fi" && w != "done" && w != "esac" {
			cmdStart = false
		}
	}
	lines := strings.Split(text, "\n")
	for li, line := range lines {
		if heredocIn {
			d := heredocs[0]
			if strings.TrimLeft(line, "\t") == d {
				heredocs = heredocs[1:]
				heredocIn = len(heredocs) > 0
			}
			continue
		}
		if !cont && quote == 0 {
			cmdStart = true
		}
		cont = false
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch quote {
			case '\'':
				if c == '\'' {
					quote = 0
				}
				continue
			case '"', '`', 'c':
				closer := quote
				if quote == 'c' {
					closer = '\''
				}
				switch c {
				case '\\':
					i++
				case closer:
					quote = 0
				}
				continue
			}
			switch c {
			case '\\':
				if i == len(line)-1 {
					cont = true
				} else {
					word.WriteByte(c)
					word.WriteByte(line[i+1])
					i++
				}
			case '\'':
				if w := word.String(); strings.HasSuffix(w, "$") {
					quote = 'c'
				} else {
					quote = '\''
				}
				word.WriteByte(c)
			case '"', '`':
				quote = c
				word.WriteByte(c)
			case '#':
				if word.Len() == 0 {
					i = len(line)
				} else {
					word.WriteByte(c)
				}
			case ' ', '\t':
				endWord()
			case ';', '&', '|':
				endWord()
				cmdStart = true
				if c == '|' || c == '&' && i+1 < len(line) && line[i+1] == '&' {
					trailOp = true
					if i+1 < len(line) && line[i+1] == c {
						i++
					}
				} else {
					trailOp = false
				}
			case '(':
				endWord()
				parens++
				cmdStart = true
			case ')':
				endWord()
				if parens > 0 {
					parens--
				}
				cmdStart = true
			case '<':
				if strings.HasPrefix(line[i:], "<<<") {
					endWord()
					i += 2
				} else if strings.HasPrefix(line[i:], "<<") {
					endWord()
					j := i + 2
					if j < len(line) && line[j] == '-' {
						j++
					}
					for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
						j++
					}
					k := j
					for k < len(line) && !strings.ContainsRune(" \t;&|<>()", rune(line[k])) {
						k++
					}
					if d := strings.NewReplacer(`'`, "", `"`, "", `\`, "").Replace(line[j:k]); d != "" {
						heredocs = append(heredocs, d)
					}
					i = k - 1
					trailOp = false
				} else {
					word.WriteByte(c)
				}
			default:
				word.WriteByte(c)
			}
		}
		if quote == 0 && !cont {
			endWord()
		}
		if len(heredocs) > 0 && li < len(lines) {
			heredocIn = true
		}
	}
	return quote != 0 || cont || trailOp || depth > 0 || parens > 0 || len(heredocs) > 0
}
