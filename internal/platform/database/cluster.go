package database

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private PostgreSQL cluster that socle creates and runs from the system's
// PostgreSQL binaries, so that `make run` needs no database set up by hand. It lives under
// one directory:
//
//	<root>/pgdata/        PGDATA, owned by the cluster's system user, mode 0700
//	<root>/postgres.log   the server's log
//	<root>.json           port, user and password socle connects with (mode 0600)
//	<root>.lock           serialises start and stop between socle processes
//	<root>.inuse          held shared by every process using the cluster
//
// Several socle processes (serve, apply, migrate) may use one cluster at once; the last one
// to leave stops it. A cluster left running by a killed process is adopted by the next one.
type Cluster struct {
	Root string
	// SystemUser owns and runs the cluster when socle runs as root: PostgreSQL refuses to
	// run as root, rightly, so socle creates this unprivileged user if it is missing.
	SystemUser string
	// BinDir holds initdb, pg_ctl and postgres; empty means found on the system.
	BinDir string
	// Fast trades durability for speed (fsync off): for throw-away test clusters only.
	Fast   bool
	Logger *slog.Logger
	// Archive, when set, turns on continuous archiving of the WAL (see Archive).
	Archive *Archive
	// Recovery, when set, starts the server in targeted recovery from a WAL archive: what a
	// restore does on a base backup laid down in PGDATA (see Recovery).
	Recovery *Recovery

	state   clusterState
	uid     int
	gid     int
	inuse   *os.File
	started bool
}

type clusterState struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Port     int    `json:"port"`
}

// Superuser is the PostgreSQL role the private cluster is created with.
const superuser = "socle"

func (c *Cluster) pgdata() string    { return filepath.Join(c.Root, "pgdata") }
func (c *Cluster) statePath() string { return c.Root + ".json" }
func (c *Cluster) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Start creates the cluster if it does not exist, starts it if it is not running, and
// marks this process as one of its users. It is safe to call from several processes.
func (c *Cluster) Start(ctx context.Context) error {
	// The server runs from "/" as another user: every path it is given must be absolute.
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.Root = abs
	if err := os.MkdirAll(filepath.Dir(c.Root), 0o755); err != nil {
		return fmt.Errorf("postgres: create data directory: %w", err)
	}
	lock, err := lockFile(c.Root+".lock", syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlockFile(lock)

	if err := c.Prepare(); err != nil {
		return err
	}
	if err := c.checkTraversable(c.Root); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.pgdata(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := c.loadState(); err != nil {
		return err
	}
	running, err := c.running(ctx)
	if err != nil {
		return err
	}
	if running && !c.reachable() {
		// A server left by a crash that no longer answers on its port: stop it and start anew.
		c.logger().Warn("private postgres is running but unreachable, restarting it", "root", c.Root)
		_ = c.pgctl(ctx, "stop", "-m", "fast", "-w")
		running = false
	}
	if running {
		c.logger().Info("adopting running private postgres", "root", c.Root, "port", c.state.Port)
		// The settings are the starting process's: one run without SOCLE_BACKUP_DIR (a
		// `socle apply`, say) must not turn the archiving of a running cluster off.
		if changed, err := c.writeSettings(false); err != nil {
			return err
		} else if changed {
			c.logger().Warn("private postgres runs with other archive settings than this process's (SOCLE_BACKUP_DIR): "+
				"they apply when every socle process using it has stopped and it starts again", "root", c.Root)
		}
	} else {
		if _, err := c.writeSettings(true); err != nil {
			return err
		}
		if err := c.start(ctx); err != nil {
			return err
		}
		c.started = true
	}
	c.inuse, err = lockFile(c.Root+".inuse", syscall.LOCK_SH)
	return err
}

// Stop releases this process's use of the cluster and stops the server if nobody else uses
// it. A clean stop lets the next start skip crash recovery.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.inuse == nil {
		return nil
	}
	lock, err := lockFile(c.Root+".lock", syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlockFile(lock)
	unlockFile(c.inuse)
	c.inuse = nil
	f, err := os.OpenFile(c.Root+".inuse", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		c.logger().Info("private postgres still in use by another socle process, leaving it running")
		return nil
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	c.logger().Info("stopping private postgres", "root", c.Root)
	return c.pgctl(ctx, "stop", "-m", "fast", "-w", "-t", "60")
}

// Credentials are the role socle connects to the cluster as: a base backup keeps them, since
// the backup holds only the password's SCRAM verifier.
func (c *Cluster) Credentials() (user, password string) { return c.state.User, c.state.Password }

// SetCredentials writes the state of a cluster restored from a base backup, before its
// first start: the role and password of the cluster it was taken from, and no port (a free
// one is picked).
func (c *Cluster) SetCredentials(user, password string) error {
	c.state = clusterState{User: user, Password: password}
	return c.saveState()
}

// URL returns the connection string for database name on this cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable",
		c.state.User, c.state.Password, c.state.Port, name)
}

// Prepare finds the binaries and the system user the cluster runs as; Start does it too.
func (c *Cluster) Prepare() error {
	if err := c.resolveBinDir(); err != nil {
		return err
	}
	return c.resolveUser()
}

// PGDATA is the cluster's data directory.
func (c *Cluster) PGDATA() string { return c.pgdata() }

func (c *Cluster) resolveBinDir() error {
	if c.BinDir != "" {
		return nil
	}
	dir, err := FindBinDir()
	c.BinDir = dir
	return err
}

// FindBinDir finds the system's PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup...).
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			dir := strings.TrimSpace(string(out))
			if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
				return dir, nil
			}
		}
	}
	// Debian installs the server outside PATH, one directory per major version.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("postgres: no initdb found: install PostgreSQL (apt-get install postgresql) or set SOCLE_DATABASE_URL")
}

func versionOf(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

// resolveUser picks who runs the server: this process's user, or, as root, an unprivileged
// system user created on demand.
func (c *Cluster) resolveUser() error {
	if os.Geteuid() != 0 {
		c.uid, c.gid = -1, -1
		return nil
	}
	if c.SystemUser == "" {
		c.SystemUser = "socle"
	}
	name := c.SystemUser
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return fmt.Errorf("postgres: look up system user %q: %w", name, err)
		}
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("postgres: create system user %q to run the private cluster: %v: %s", name, err, out)
		}
		c.logger().Info("created system user for the private postgres cluster", "user", name)
		if u, err = user.Lookup(name); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	c.uid, _ = strconv.Atoi(u.Uid)
	c.gid, _ = strconv.Atoi(u.Gid)
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.logger().Info("creating private postgres cluster", "root", c.Root, "bin", c.BinDir)
	if err := os.MkdirAll(c.Root, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := c.chown(c.Root); err != nil {
		return err
	}
	if err := c.checkTraversable(c.Root); err != nil {
		return err
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	c.state = clusterState{User: superuser, Password: hex.EncodeToString(pw)}
	pwfile := filepath.Join(c.Root, "initdb.pw")
	if err := os.WriteFile(pwfile, []byte(c.state.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.chown(pwfile); err != nil {
		return err
	}
	args := []string{"-D", c.pgdata(), "-U", superuser, "-A", "scram-sha-256", "--pwfile", pwfile,
		"-E", "UTF8", "--locale=C.UTF-8"}
	if c.Fast {
		args = append(args, "--no-sync")
	}
	if out, err := c.command(ctx, "initdb", args...).CombinedOutput(); err != nil {
		os.RemoveAll(c.pgdata())
		return fmt.Errorf("postgres: initdb: %v: %s", err, out)
	}
	// Only loopback TCP: no Unix socket directory to own, nothing reachable from outside.
	// The emergency path is write-heavy: room for checkpoints to be rare (fewer full-page
	// images in the WAL) and compressed WAL.
	conf := "\n# written by socle\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" +
		"max_connections = 200\nlogging_collector = off\n" +
		"shared_buffers = 512MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 15min\nwal_compression = lz4\n" + includeLine
	f, err := os.OpenFile(filepath.Join(c.pgdata(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: write postgresql.conf: %w", err)
	}
	return c.saveState()
}

// Archive is continuous archiving of the WAL (PostgreSQL 15 §26.3): each completed segment
// is handed to Command, which copies it into Dir; a base backup plus these segments restores
// the cluster to any moment since the backup.
type Archive struct {
	// Dir receives the segments: socle creates it, mode 0700, owned by the cluster's user,
	// which runs Command. Its parent is made traversable (0711) for that user.
	Dir string
	// Command is archive_command: %p is the segment's path (relative to PGDATA), %f its
	// name. It must succeed only once the segment is safely stored (§26.3.1).
	Command string
	// Timeout is archive_timeout: a segment holding any change is archived at the latest
	// this long after it, so that a quiet platform loses at most that much (§26.3.1).
	Timeout time.Duration
}

// Recovery is a targeted recovery from a WAL archive (PostgreSQL 15 §26.3.4): the server
// replays the archive from the base backup laid in PGDATA up to Target, then promotes.
type Recovery struct {
	// RestoreCommand is restore_command: it copies %f from the archive to %p, and fails
	// when the archive has no such file.
	RestoreCommand string
	// Target is recovery_target_time; zero replays every segment the archive holds.
	Target time.Time
}

// settingsFile holds the settings socle decides at each start (archiving, recovery), apart
// from postgresql.conf so that they can be rewritten whole: included last, they win.
const settingsFile = "socle.conf"

const includeLine = "include_if_exists = '" + settingsFile + "'\n"

// writeSettings writes socle.conf as Archive and Recovery say, makes sure postgresql.conf
// includes it (a cluster created by an earlier release does not), and, for a recovery,
// puts recovery.signal in place. It reports whether socle.conf changes; with write false
// it only says so.
func (c *Cluster) writeSettings(write bool) (bool, error) {
	var b strings.Builder
	b.WriteString("# written by socle at each start of the cluster: edits are lost\n")
	if a := c.Archive; a != nil && !write {
		fmt.Fprintf(&b, "archive_mode = on\narchive_command = %s\narchive_timeout = %ds\n",
			confQuote(a.Command), int(a.Timeout.Seconds()))
	} else if a != nil {
		if err := os.MkdirAll(filepath.Dir(a.Dir), 0o711); err != nil {
			return false, fmt.Errorf("postgres: WAL archive: %w", err)
		}
		if err := os.Mkdir(a.Dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return false, fmt.Errorf("postgres: WAL archive: %w", err)
		}
		if err := c.chown(a.Dir); err != nil {
			return false, err
		}
		if err := c.checkTraversable(a.Dir); err != nil {
			return false, err
		}
		fmt.Fprintf(&b, "archive_mode = on\narchive_command = %s\narchive_timeout = %ds\n",
			confQuote(a.Command), int(a.Timeout.Seconds()))
	}
	if r := c.Recovery; r != nil && write {
		fmt.Fprintf(&b, "restore_command = %s\nrecovery_target_action = 'promote'\n", confQuote(r.RestoreCommand))
		if !r.Target.IsZero() {
			fmt.Fprintf(&b, "recovery_target_time = %s\n", confQuote(r.Target.UTC().Format("2006-01-02 15:04:05.999999")+"+00"))
		}
		signal := filepath.Join(c.pgdata(), "recovery.signal")
		if err := os.WriteFile(signal, nil, 0o600); err != nil {
			return false, fmt.Errorf("postgres: %w", err)
		}
		if err := c.chown(signal); err != nil {
			return false, err
		}
	}
	path := filepath.Join(c.pgdata(), settingsFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return false, nil
	}
	if !write {
		return true, nil
	}
	conf := filepath.Join(c.pgdata(), "postgresql.conf")
	main, err := os.ReadFile(conf)
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(string(main), includeLine) {
		if err := os.WriteFile(conf, append(main, "\n# written by socle\n"+includeLine...), 0o600); err != nil {
			return false, fmt.Errorf("postgres: write postgresql.conf: %w", err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	if err := c.chown(tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return true, nil
}

// confQuote quotes a string value for postgresql.conf: a quote is written twice (§20.1.2).
func confQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// WaitRecovered waits until the server started with Recovery has replayed the archive up to
// its target and promoted itself. A recovery that cannot reach its target stops the server
// (PostgreSQL 15: "recovery ended before configured recovery target was reached"): the
// error then carries the end of its log.
func (c *Cluster) WaitRecovered(ctx context.Context) error {
	for {
		if conn, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
			var in bool
			err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&in)
			conn.Close(ctx)
			if err == nil && !in {
				return nil
			}
		}
		if running, err := c.running(ctx); err != nil || !running {
			tail, _ := os.ReadFile(filepath.Join(c.Root, "postgres.log"))
			if len(tail) > 3000 {
				tail = tail[len(tail)-3000:]
			}
			return fmt.Errorf("postgres: the recovery stopped before its end:\n%s", tail)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: waiting for the recovery: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkTraversable fails early, with the fix, when the cluster's user cannot reach its own
// directory (a data directory under /root, say).
func (c *Cluster) checkTraversable(path string) error {
	if c.uid < 0 {
		return nil
	}
	abs, _ := filepath.Abs(path)
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("postgres: the system user %q cannot traverse %s (mode %v): "+
				"choose a directory outside it (SOCLE_DATA_DIR, SOCLE_BACKUP_DIR), or chmod o+x %s",
				c.SystemUser, dir, fi.Mode().Perm(), dir)
		}
		if dir == "/" {
			return nil
		}
	}
}

func (c *Cluster) loadState() error {
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return fmt.Errorf("postgres: read cluster state (remove %s to start afresh): %w", c.Root, err)
	}
	if err := json.Unmarshal(b, &c.state); err != nil {
		return fmt.Errorf("postgres: %s: %w", c.statePath(), err)
	}
	return nil
}

func (c *Cluster) saveState() error {
	b, _ := json.MarshalIndent(c.state, "", "  ")
	tmp := c.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return os.Rename(tmp, c.statePath())
}

func (c *Cluster) running(ctx context.Context) (bool, error) {
	err := c.pgctl(ctx, "status")
	if err == nil {
		return true, nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		// pg_ctl status: 3 = not running, 4 = no accessible data directory.
		return false, nil
	}
	return false, err
}

func (c *Cluster) reachable() bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.state.Port)), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (c *Cluster) start(ctx context.Context) error {
	if c.state.Port == 0 || !portFree(c.state.Port) {
		p, err := freePort()
		if err != nil {
			return err
		}
		c.state.Port = p
		if err := c.saveState(); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("-p %d", c.state.Port)
	if c.Fast {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	c.logger().Info("starting private postgres", "root", c.Root, "port", c.state.Port)
	logPath := filepath.Join(c.Root, "postgres.log")
	if err := c.pgctl(ctx, "start", "-w", "-t", "120", "-l", logPath, "-o", opts); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("postgres: start: %w\n%s", err, tail)
	}
	return nil
}

func (c *Cluster) pgctl(ctx context.Context, args ...string) error {
	args = append([]string{args[0], "-D", c.pgdata()}, args[1:]...)
	cmd := c.command(ctx, "pg_ctl", args...)
	out, err := cmd.CombinedOutput()
	if err != nil && args[0] != "status" {
		return fmt.Errorf("pg_ctl %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return err
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC"}
	// Own process group: a Ctrl-C in socle's terminal must not reach the server directly;
	// socle stops it cleanly itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
		cmd.Dir = "/"
	}
	return cmd
}

// ChownTree gives path and everything under it to the cluster's user (when socle runs as
// root; Prepare first): what a restore does with the files it lays down.
func (c *Cluster) ChownTree(path string) error {
	if c.uid < 0 {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, c.uid, c.gid)
	})
}

func (c *Cluster) chown(path string) error {
	if c.uid < 0 {
		return nil
	}
	if err := os.Chown(path, c.uid, c.gid); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("postgres: lock %s: %w", path, err)
	}
	return f, nil
}

func unlockFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("postgres: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
