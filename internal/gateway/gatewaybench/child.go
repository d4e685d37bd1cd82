package gatewaybench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the bench started: a proxy or socle. Its output goes to a log file,
// whose last lines explain a failure.
type child struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when it has exited
	err    error         // how it exited, once exited is closed
}

// startChild starts argv with env added to the bench's own, its output in logFile. With
// firstLine, it returns the first line the child writes on its standard output, within
// timeout (the rest goes to the log).
func startChild(name string, argv, env []string, logFile string, firstLine bool, timeout time.Duration) (*child, string, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, "", err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = f
	// The child dies with the bench, even when the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if firstLine {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
	} else {
		cmd.Stdout = f
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logFile, exited: make(chan struct{})}
	if !firstLine {
		go c.wait()
		return c, "", nil
	}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(io.Discard, r)
		c.wait()
	}()
	select {
	case line := <-lines:
		if line == "" {
			<-c.exited
			return nil, "", c.failure("exited before it said where it listens")
		}
		return c, line, nil
	case <-time.After(timeout):
		c.stop()
		return nil, "", c.failure(fmt.Sprintf("did not say where it listens within %s", timeout))
	}
}

func (c *child) wait() {
	c.err = c.cmd.Wait()
	close(c.exited)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to end (SIGTERM), and kills it if it has not within 10 s.
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// failure is an error that says why, with the end of the child's log.
func (c *child) failure(why string) error {
	msg := c.name + ": " + why
	if tail := lastLines(c.log, 3); tail != "" {
		msg += ": " + tail
	}
	return errors.New(msg)
}

// lastLines is the end of a file, its lines joined by " | ".
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-n):]
	return strings.Join(lines, " | ")
}

// waitFor calls ready every 50 ms until it is true, the child exits, or timeout passes.
func (c *child) waitFor(what string, timeout time.Duration, ready func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !ready() {
		select {
		case <-c.exited:
			return c.failure(fmt.Sprintf("exited (%v) before %s", c.err, what))
		case <-deadline:
			c.stop()
			return c.failure(fmt.Sprintf("not %s within %s", what, timeout))
		case <-tick.C:
		}
	}
	return nil
}

// freePort finds a loopback port nobody listens on, for a child that cannot report the one
// it bound (Caddy, its admin endpoint off). Another process could take it in between; on a
// bench machine's loopback that does not happen in practice, and the child would fail
// loudly if it did.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// accepts says whether something accepts TCP connections at addr.
func accepts(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// runTool runs a short socle command to its end and returns its standard output; a failure
// carries the last lines of its standard error.
func runTool(ctx context.Context, argv, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		lines = lines[max(0, len(lines)-3):]
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return "", fmt.Errorf("socle %s: %v: %s", strings.Join(argv[1:], " "), err, strings.Join(lines, " | "))
	}
	return out.String(), nil
}
