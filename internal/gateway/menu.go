package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/postern/postern/internal/gateway/sshproxy"
)

// menu is what an operator sees after `ssh alice@bastion` with a terminal:
// the assets they may reach, numbered and paged to the window, with text
// search, and a prompt to pick one.
type menu struct {
	s     *Server
	ctx   context.Context
	conn  *ssh.ServerConn
	user  User
	ch    ssh.Channel
	t     *term.Terminal
	pty   ptyReq
	env   [][]byte // env request payloads, replayed to the target
	reqs  *reqRouter
	query string
	node  Node // the node browsed into; zero for all assets
	page  int
	shown []Asset
	total int
}

// ptyReq is the payload of an SSH pty-req.
type ptyReq struct {
	Term                      string
	Cols, Rows, Width, Height uint32
	Modes                     string
}

// reqRouter owns the operator's request stream: while the menu runs it
// applies window changes to the menu's terminal; once a target is
// connected it hands every request to the bridge.
type reqRouter struct {
	mu     sync.Mutex
	onSize func(cols, rows int)
	out    chan *ssh.Request
	handed bool
}

func newReqRouter(in <-chan *ssh.Request, onSize func(cols, rows int)) *reqRouter {
	r := &reqRouter{onSize: onSize, out: make(chan *ssh.Request, 16)}
	go func() {
		for req := range in {
			r.mu.Lock()
			handed := r.handed
			r.mu.Unlock()
			if handed {
				r.out <- req
				continue
			}
			if req.Type == "window-change" {
				var p struct{ Cols, Rows, Width, Height uint32 }
				if ssh.Unmarshal(req.Payload, &p) == nil {
					r.onSize(int(p.Cols), int(p.Rows))
				}
			}
			if req.WantReply {
				req.Reply(req.Type == "window-change", nil)
			}
		}
		close(r.out)
	}()
	return r
}

// handOff switches the stream to the bridge and returns it.
func (r *reqRouter) handOff() <-chan *ssh.Request {
	r.mu.Lock()
	r.handed = true
	r.mu.Unlock()
	return r.out
}

const menuHelp = `  NUMBER       connect to that asset
  TEXT         search assets by name or address (an empty line shows all)
  n / p        next / previous page
  g            browse the asset tree: pick a node to list only its assets
  r            refresh
  h            this help
  q            quit
`

// runMenu serves the menu until the operator quits or connects.
func (s *Server) runMenu(ctx context.Context, conn *ssh.ServerConn, user User, ch ssh.Channel, reqs <-chan *ssh.Request, early []*ssh.Request) {
	m := &menu{s: s, ctx: ctx, conn: conn, user: user, ch: ch}
	for _, r := range early {
		switch r.Type {
		case "pty-req":
			ssh.Unmarshal(r.Payload, &m.pty)
		case "env":
			m.env = append(m.env, r.Payload)
		}
		if r.WantReply {
			r.Reply(true, nil)
		}
	}
	m.t = term.NewTerminal(ch, "Opt> ")
	m.t.SetSize(int(m.pty.Cols), int(m.pty.Rows))
	var sizeMu sync.Mutex
	m.reqs = newReqRouter(reqs, func(cols, rows int) {
		sizeMu.Lock()
		m.pty.Cols, m.pty.Rows = uint32(cols), uint32(rows)
		sizeMu.Unlock()
		m.t.SetSize(cols, rows)
	})
	m.printf("\n  Welcome to Postern, %s.\n", user.Username)
	m.list()
	for {
		line, err := m.t.ReadLine()
		if err != nil {
			return // the operator closed the connection
		}
		line = strings.TrimSpace(line)
		switch strings.ToLower(line) {
		case "q", "quit", "exit":
			m.printf("  Bye.\n")
			exitStatus(ch, 0)
			return
		case "h", "help", "?":
			m.printf("%s", menuHelp)
			continue
		case "n":
			if (m.page+1)*m.pageSize() < m.total {
				m.page++
			}
			m.list()
			continue
		case "p":
			if m.page > 0 {
				m.page--
			}
			m.list()
			continue
		case "r":
			m.list()
			continue
		case "g":
			m.browse()
			m.list()
			continue
		}
		if n, err := strconv.Atoi(line); err == nil {
			sizeMu.Lock()
			pty := m.pty
			sizeMu.Unlock()
			if done := m.pick(n, pty); done {
				return
			}
			continue
		}
		m.query, m.page = line, 0
		m.list()
	}
}

func (m *menu) printf(format string, args ...any) {
	fmt.Fprintf(m.t, format, args...)
}

// pageSize fits a page to the window: a header line, the column line and
// the prompt stay visible.
func (m *menu) pageSize() int {
	rows := int(m.pty.Rows)
	if rows < 8 {
		return 5
	}
	return rows - 5
}

func (m *menu) list() {
	size := m.pageSize()
	assets, total, err := m.s.core.Assets(m.ctx, m.user.ID, AssetQuery{Search: m.query, Node: m.node.ID, Offset: m.page * size, Limit: size})
	if err != nil {
		m.printf("  postern: cannot list assets right now\n")
		return
	}
	m.shown, m.total = assets, total
	if total == 0 {
		if m.query != "" {
			m.printf("  No asset matches %q. An empty line shows all.\n", m.query)
		} else {
			m.printf("  You may not reach any asset yet. Ask an administrator for a permission.\n")
		}
		return
	}
	pages := (total + size - 1) / size
	head := fmt.Sprintf("  %d assets", total)
	if m.node.ID != "" {
		head += " in " + clean(m.node.Name)
	}
	if m.query != "" {
		head += fmt.Sprintf(" matching %q", m.query)
	}
	m.printf("%s, page %d/%d. Type a number to connect, text to search, h for help.\n", head, m.page+1, pages)
	nameW, ipW := 4, 7
	for _, a := range assets {
		nameW = max(nameW, min(width(a.Name), 40))
		ipW = max(ipW, min(width(a.IP), 39))
	}
	m.printf("  %4s  %s  %s  %s\n", "ID", pad("NAME", nameW), pad("ADDRESS", ipW), "SYSTEM USERS")
	for i, a := range assets {
		names := make([]string, len(a.SystemUsers))
		for j, su := range a.SystemUsers {
			names[j] = su.Name
		}
		m.printf("  %4d  %s  %s  %s\n", m.page*size+i+1, pad(a.Name, nameW), pad(a.IP, ipW), clean(strings.Join(names, ", ")))
	}
}

// browse shows the nodes holding the user's assets as a numbered tree and
// lets them narrow the listing to one node's subtree.
func (m *menu) browse() {
	nodes, err := m.s.core.Nodes(m.ctx, m.user.ID)
	if err != nil || len(nodes) == 0 {
		m.printf("  No nodes to browse.\n")
		return
	}
	known := make(map[string]bool, len(nodes))
	children := make(map[string][]Node)
	for _, n := range nodes {
		known[n.ID] = true
	}
	var roots []Node
	for _, n := range nodes {
		if known[n.Parent] {
			children[n.Parent] = append(children[n.Parent], n)
		} else {
			roots = append(roots, n)
		}
	}
	var order []Node
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		if depth > 64 {
			return
		}
		order = append(order, n)
		m.printf("  %4d  %s%s (%d)\n", len(order), strings.Repeat("  ", depth), clean(n.Name), n.Assets)
		for _, c := range children[n.ID] {
			walk(c, depth+1)
		}
	}
	m.printf("     0  all assets\n")
	for _, r := range roots {
		walk(r, 0)
	}
	m.t.SetPrompt("Node> ")
	line, err := m.t.ReadLine()
	m.t.SetPrompt("Opt> ")
	if err != nil {
		return
	}
	k, err := strconv.Atoi(strings.TrimSpace(line))
	switch {
	case err != nil || k < 0 || k > len(order):
		m.printf("  Unchanged.\n")
	case k == 0:
		m.node, m.page = Node{}, 0
	default:
		m.node, m.page = order[k-1], 0
	}
}

// pick connects to the asset numbered n (as listed), asking for the system
// user when there are several. It reports whether the session is over.
func (m *menu) pick(n int, pty ptyReq) bool {
	i := n - 1 - m.page*m.pageSize()
	if i < 0 || i >= len(m.shown) {
		m.printf("  No asset numbered %d on this page.\n", n)
		return false
	}
	a := m.shown[i]
	if len(a.SystemUsers) == 0 {
		m.printf("  You have no system user on %s.\n", clean(a.Name))
		return false
	}
	su := a.SystemUsers[0]
	if len(a.SystemUsers) > 1 {
		for j, s := range a.SystemUsers {
			m.printf("  %2d  %s (%s)\n", j+1, clean(s.Name), clean(s.Username))
		}
		m.t.SetPrompt("System user> ")
		line, err := m.t.ReadLine()
		m.t.SetPrompt("Opt> ")
		if err != nil {
			return true
		}
		k, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || k < 1 || k > len(a.SystemUsers) {
			m.printf("  Cancelled.\n")
			return false
		}
		su = a.SystemUsers[k-1]
	}
	m.printf("  Connecting to %s as %s ...\n", clean(a.Name), clean(su.Name))
	setups := []sshproxy.Setup{{Type: "pty-req", Payload: ssh.Marshal(pty)}}
	for _, e := range m.env {
		setups = append(setups, sshproxy.Setup{Type: "env", Payload: e})
	}
	setups = append(setups, sshproxy.Setup{Type: "shell"})
	if err := m.s.proxy(m.ctx, m.conn, m.user, a, su, m.ch, m.reqs.handOff(), setups); err != nil {
		// Nothing was bridged: the requests go back to the menu.
		m.reqs.mu.Lock()
		m.reqs.handed = false
		m.reqs.mu.Unlock()
		m.printf("  %s\n", clean(err.Error()))
		return false
	}
	return true
}

// clean drops control characters from names shown on the operator's
// terminal: an asset named with escape sequences must not drive it.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// width is the number of terminal columns s takes: East Asian wide
// characters take two.
func width(s string) int {
	w := 0
	for _, r := range clean(s) {
		w += runeWidth(r)
	}
	return w
}

func runeWidth(r rune) int {
	switch {
	case r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) ||
		(r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) ||
		(r >= 0xfe30 && r <= 0xfe6f) ||
		(r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) ||
		(r >= 0x1f300 && r <= 0x1f64f) ||
		(r >= 0x1f900 && r <= 0x1f9ff) ||
		(r >= 0x20000 && r <= 0x3fffd)):
		return 2
	case unicode.Is(unicode.Mn, r):
		return 0
	}
	return 1
}

// pad cuts or fills s to exactly w columns.
func pad(s string, w int) string {
	s = clean(s)
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := runeWidth(r)
		if used+rw > w {
			if used < w {
				b.WriteString(strings.Repeat(".", w-used))
				used = w
			}
			break
		}
		b.WriteRune(r)
		used += rw
	}
	if used < w {
		b.WriteString(strings.Repeat(" ", w-used))
	}
	return b.String()
}
