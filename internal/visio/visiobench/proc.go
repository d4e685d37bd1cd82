package visiobench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server the bench started: socle's SFU or a peer such as Galène. Its CPU time is
// read from /proc, so that the phase counts the server's work and not the participants'.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once the process exited
	err   error         // why it exited, once done is closed

	mu     sync.Mutex
	output strings.Builder // the end of what it wrote, for an error message
}

// startChild runs the command with its output kept (the last few kilobytes) for errors.
// lines, if not nil, gets every line it writes on its standard output.
func startChild(name string, argv []string, dir string, lines chan<- string) (*child, error) {
	c := &child{name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	c.cmd.Dir = dir
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stderr = c
	// Its standard input is a pipe this process holds: if the bench dies, the child reads
	// EOF and can go (the SFU's does).
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if lines != nil {
				select {
				case lines <- sc.Text():
				default:
				}
			}
			c.Write([]byte(sc.Text() + "\n"))
		}
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Write keeps the end of the child's output.
func (c *child) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.output.Write(b)
	if s := c.output.String(); len(s) > 8<<10 {
		c.output.Reset()
		c.output.WriteString(s[len(s)-4<<10:])
	}
	return len(b), nil
}

// exited says why the child is gone, with the end of its output; nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Errorf("%s exited (%v): %s", c.name, c.err, strings.TrimSpace(c.output.String()))
}

// cpu is the child's user and system time so far.
func (c *child) cpu() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, false
	}
	d, err := parseProcStat(string(b))
	return d, err == nil
}

// parseProcStat reads utime and stime, fields 14 and 15 of /proc/<pid>/stat (proc(5)), in
// clock ticks of 1/100 s (USER_HZ on Linux). The command name, field 2, is in parentheses
// and may hold spaces and parentheses itself: fields are counted after its last ')'.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime and stime are f[11] and f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("/proc stat: cpu time %q", v)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// stop asks the child to end (SIGTERM), then kills it if it has not within 5 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// NamespaceEnv marks the bench's own process in the network namespace it made for a
// comparison with a peer (RunInNamespace).
const NamespaceEnv = "SOCLE_VISIOBENCH_NETNS"

// BenchAddress is the one non-loopback address of the bench's namespace, from the range
// RFC 2544 §C.2.2 reserves for benchmarks (198.18.0.0/15). Pion leaves out the loopback
// interface unless told otherwise, and Galène does not tell it: a server there needs an
// address on another interface. It sits on a bridge with no ports, so that whatever is
// sent to it stays in the kernel's loopback path, as 127.0.0.1 does.
var BenchAddress = net.IPv4(198, 18, 0, 1)

// RunInNamespace runs this very command again in a fresh network namespace, where only the
// loopback interface and the bench's bridge exist (SetUpNamespace): a server there can
// offer no other address, and nothing else on the machine can reach it. Outside root, a
// user namespace maps the caller to root inside, which creating a network namespace needs.
func RunInNamespace(ctx context.Context, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), NamespaceEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if uid, gid := os.Geteuid(), os.Getegid(); uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("the bench in its network namespace: %w", err)
		}
		return fmt.Errorf("a network namespace for the bench (needs unprivileged user namespaces or root): %w", err)
	}
	return nil
}

// SetUpNamespace brings up the loopback interface of the namespace RunInNamespace made and
// a bridge holding BenchAddress, with iproute2's ip (netlink by hand is not worth it here).
// It refuses to run where any other interface exists: it would not be the bench's namespace.
func SetUpNamespace() error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifaces {
		if i.Name != "lo" {
			return fmt.Errorf("network namespace: interface %s is there, want a fresh namespace with lo only", i.Name)
		}
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "bench0", "type", "bridge"},
		{"addr", "add", BenchAddress.String() + "/32", "dev", "bench0"},
		{"link", "set", "bench0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("network namespace: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
