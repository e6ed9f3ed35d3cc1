package sshtest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procInfo is what /proc tells about one process.
type procInfo struct {
	pid, ppid int
	state     byte
	uid       int
}

// processes lists the processes of the machine. Processes that exit
// while it reads are left out.
func processes() []procInfo {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || len(fields[0]) != 1 {
			continue
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		p := procInfo{pid: pid, ppid: ppid, state: fields[0][0], uid: -1}
		// The owner of /proc/PID is root for processes that are not
		// dumpable (sshd makes its session processes so): read the real
		// uid from status instead.
		if status, err := os.ReadFile("/proc/" + e.Name() + "/status"); err == nil {
			for line := range strings.Lines(string(status)) {
				if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
					if f := strings.Fields(rest); len(f) > 0 {
						if uid, err := strconv.Atoi(f[0]); err == nil {
							p.uid = uid
						}
					}
					break
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// descendants returns the live (not zombie) descendants of pid.
func descendants(pid int) []int {
	children := map[int][]procInfo{}
	for _, p := range processes() {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			queue = append(queue, c.pid)
			if c.state != 'Z' {
				out = append(out, c.pid)
			}
		}
	}
	return out
}

// killTree kills root and every process under it. It stops the whole
// tree first, so that no process can fork a child that escapes (nor reap
// one, which keeps the pids found valid), then kills it.
func killTree(root *os.Process) {
	if root.Signal(syscall.SIGSTOP) != nil {
		return // already gone
	}
	pid := root.Pid
	stopped := map[int]bool{}
	for range 50 {
		fresh := false
		for _, d := range descendants(pid) {
			if !stopped[d] {
				_ = syscall.Kill(d, syscall.SIGSTOP)
				stopped[d] = true
				fresh = true
			}
		}
		if !fresh {
			break
		}
	}
	for d := range stopped {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	_ = root.Signal(syscall.SIGKILL)
}

// killUser kills every process of the user id and waits until none is
// left, for at most timeout. It reports whether none is left.
func killUser(uid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		var live []int
		for _, p := range processes() {
			if p.uid == uid && p.state != 'Z' {
				live = append(live, p.pid)
			}
		}
		if len(live) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		for _, pid := range live {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
