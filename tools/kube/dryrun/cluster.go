// Package dryrun starts a real kube-apiserver and etcd on loopback and asks the API server to
// dry-run the creation of every object of a set of Kubernetes manifests (server-side dry run,
// strict field validation, Pod Security "restricted" enforced in the target namespaces), so that
// what the Helm chart renders is judged by the same code a cluster runs, not by a copy of its
// rules. Both binaries are built from their Go modules (tools/kube/apiserver, tools/kube/etcd).
package dryrun

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Cluster is one etcd and one kube-apiserver, each a child process listening on 127.0.0.1 only,
// with their data in a temporary directory removed by Stop. No controller-manager or scheduler
// runs: nothing is ever scheduled, which is what a dry run needs.
type Cluster struct {
	// Config reaches the API server as a member of system:masters (a static token).
	Config *rest.Config

	dir        string
	keepDir    bool
	procs      []*proc
	stopOnce   sync.Once
	apiLogPath string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Options say where the binaries are and how long to wait for the API server.
type Options struct {
	// BinDir holds kube-apiserver and etcd (bin/kube, built by `make deploy-check`).
	BinDir string
	// ReadyTimeout bounds the wait for /readyz (default 2 minutes: the machine may be busy).
	ReadyTimeout time.Duration
	// KeepDir keeps the temporary directory (logs, certificates) after Stop, for debugging.
	KeepDir bool
}

// Binaries returns the paths of the two binaries in dir, or an error naming the missing one.
func Binaries(dir string) (apiserver, etcd string, err error) {
	apiserver = filepath.Join(dir, "kube-apiserver")
	etcd = filepath.Join(dir, "etcd")
	for _, p := range []string{apiserver, etcd} {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", "", fmt.Errorf("%s is missing: build it with `make bin/kube/%s`", p, filepath.Base(p))
		}
	}
	return apiserver, etcd, nil
}

// Start launches etcd, then kube-apiserver, and returns once the API server's /readyz answers
// ok. On error everything started is stopped and the error carries the tail of the logs.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	apiserverBin, etcdBin, err := Binaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	dir, err := os.MkdirTemp("", "socle-dryrun-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	c := &Cluster{dir: dir, keepDir: opts.KeepDir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	securePort := ports[2]

	// etcd: a single member on loopback. --unsafe-no-fsync: this cluster's data is thrown away,
	// and fsync is the slowest part of every write on a shared disk.
	if err := c.spawn("etcd", etcdBin,
		"--name=dryrun",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=dryrun="+etcdPeer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return nil, err
	}

	// The service-account token signer: kube-apiserver refuses to start without one.
	keyPath := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(keyPath); err != nil {
		return nil, err
	}
	// A static token in system:masters: the only client is this program.
	token, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	tokenPath := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenPath, []byte(token+",dryrun-admin,dryrun-admin,system:masters\n"), 0o600); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	certDir := filepath.Join(dir, "certs")

	if err := c.spawn("kube-apiserver", apiserverBin,
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(securePort),
		"--cert-dir="+certDir,
		// The default reconciler refuses a loopback advertise address ("cannot use public IP
		// 127.0.0.1 with endpoint reconciler"); no Service is ever routed here anyway.
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.250.0.0/24",
		"--token-auth-file="+tokenPath,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+keyPath,
		"--service-account-signing-key-file="+keyPath,
		// As on kubeadm, OpenShift and every managed cluster: privileged Pods are a matter for
		// Pod Security admission, which this check is meant to exercise, not for the API
		// server's blanket --allow-privileged=false default.
		"--allow-privileged=true",
		"--v=0",
	); err != nil {
		return nil, err
	}
	c.apiLogPath = c.procs[1].log

	// The serving certificate is self-signed by the API server in --cert-dir; it is created
	// before /readyz can answer, so the client trusts exactly that file.
	c.Config = &rest.Config{
		Host:        "https://127.0.0.1:" + strconv.Itoa(securePort),
		BearerToken: token,
		QPS:         -1, // no client-side throttling: every request is one dry run
	}
	if err := c.waitReady(ctx, certDir, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) spawn(name, bin string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	slog.Debug("started", "process", name, "pid", cmd.Process.Pid, "log", logPath)
	return nil
}

// waitReady polls /readyz until it answers ok, a process exits, or the deadline passes.
func (c *Cluster) waitReady(ctx context.Context, certDir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		for _, p := range c.procs {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited before the API server was ready (%v):\n%s", p.name, p.err, tail(p.log, 20))
			default:
			}
		}
		if last = c.readyz(ctx, certDir); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s: %v\n%s", timeout, last, tail(c.apiLogPath, 20))
		case <-tick.C:
		}
	}
}

func (c *Cluster) readyz(ctx context.Context, certDir string) error {
	crt := filepath.Join(certDir, "apiserver.crt")
	if _, err := os.Stat(crt); err != nil {
		return fmt.Errorf("no serving certificate yet: %w", err)
	}
	if c.Config.CAFile == "" {
		c.Config.CAFile = crt
	}
	client, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Config.Host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// Stop ends the API server, then etcd (SIGTERM, then SIGKILL after 10 s), and removes the
// temporary directory unless KeepDir was set.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		for i := len(c.procs) - 1; i >= 0; i-- {
			p := c.procs[i]
			_ = p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if c.keepDir {
			slog.Info("kept the cluster's directory", "dir", c.dir)
			return
		}
		_ = os.RemoveAll(c.dir)
	})
}

// Dir is the cluster's temporary directory (logs, certificates, etcd data).
func (c *Cluster) Dir() string { return c.dir }

// freePorts asks the kernel for n distinct free loopback ports. They are released before the
// servers bind them; another process could take one in between, and the server would then fail
// to start with a clear "address already in use" in its log.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("random token: " + err.Error())
	}
	return hex.EncodeToString(b), nil
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
