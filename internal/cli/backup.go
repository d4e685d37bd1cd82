package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/service"
)

// Backups follow PostgreSQL 15 §26.3 (continuous archiving and point-in-time recovery): the
// private cluster archives each WAL segment into <backup-dir>/wal as it completes (the
// archive_command is this binary's `backup archive-wal`), `socle backup base` adds base
// backups under <backup-dir>/base, and `socle backup restore` lays one down as a new
// private cluster and replays the archive up to the moment asked.
func init() {
	groups = append(groups, service.Command{Name: "backup", Summary: "base backups, WAL archive and point-in-time restore of the database",
		Description: `Backs the database up and restores it to a moment (docs/operations-backup.md). With
SOCLE_BACKUP_DIR set, the private cluster archives its WAL into <backup-dir>/wal; base
backups go to <backup-dir>/base/<id>.`,
		Subcommands: []service.Command{
			{Name: "base", Summary: "take a base backup (pg_basebackup, tar, checksummed manifest) and verify it", Run: runBackupBase},
			{Name: "list", Summary: "list the base backups and what the WAL archive holds", Run: runBackupList},
			{Name: "restore", Summary: "restore a base backup and the archived WAL up to a moment, as a new private cluster", Run: runBackupRestore},
			{Name: "archive-wal", Summary: "store one WAL segment in the archive (the private cluster's archive_command)", Run: runArchiveWAL},
		}})
	examples["backup base"] = "SOCLE_BACKUP_DIR=/srv/socle-backup socle backup base"
	examples["backup list"] = "SOCLE_BACKUP_DIR=/srv/socle-backup socle backup list"
	examples["backup restore"] = "SOCLE_BACKUP_DIR=/srv/socle-backup socle backup restore --to /srv/socle-restored --time 2026-12-04T14:05:00Z\n" +
		"socle serve --data-dir /srv/socle-restored"
	examples["backup archive-wal"] = "archive_command = '/usr/local/bin/socle backup archive-wal --dir /srv/socle-backup/wal %p %f'"
}

// archive is the private cluster's WAL archiving as SOCLE_BACKUP_DIR says. The
// archive_command runs this very binary, `socle backup archive-wal`, rather than a shell
// one-liner: the `test ! -f && cp` of PostgreSQL's example neither syncs the copy nor
// renames it into place, so a crash can leave a truncated segment that then refuses every
// retry, and it fails on a segment offered again after a crash although it is identical.
func (b *base) archive() (*database.Archive, error) {
	dir, err := filepath.Abs(b.BackupDir)
	if err != nil {
		return nil, fmt.Errorf("SOCLE_BACKUP_DIR: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("backup: find this binary for archive_command: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := runnableByOthers(exe); err != nil {
		return nil, err
	}
	wal := database.WALDir(dir)
	cmd, err := shellWords(exe, "backup", "archive-wal", "--dir", wal)
	if err != nil {
		return nil, err
	}
	return &database.Archive{Dir: wal, Command: cmd + " %p %f", Timeout: b.ArchiveTimeout}, nil
}

// runnableByOthers checks, when socle runs as root, that the private cluster's system user
// may run the binary its archive_command names: every directory above it traversable and
// the file executable by others.
func runnableByOthers(exe string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for p := exe; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("backup: the private cluster's system user runs %s to archive the WAL, but %s (mode %v) bars it: "+
				"install socle where every user may run it (e.g. /usr/local/bin)", exe, p, fi.Mode().Perm())
		}
		if p == "/" {
			return nil
		}
	}
}

// shellWords quotes words for /bin/sh, which runs archive_command and restore_command;
// PostgreSQL replaces %-escapes first, so a % of a path is doubled.
func shellWords(words ...string) (string, error) {
	var out []string
	for _, w := range words {
		if strings.ContainsAny(w, "'\n") {
			return "", fmt.Errorf("backup: %q: a path with a quote or a newline cannot go in archive_command", w)
		}
		out = append(out, "'"+strings.ReplaceAll(w, "%", "%%")+"'")
	}
	return strings.Join(out, " "), nil
}

// backupFlags parses a backup command's flags: the database options and the backup
// directory, which is required.
func backupFlags(name, synopsis, description string, args []string, more func(*flag.FlagSet)) (*base, []string, error) {
	var b base
	set := config.New()
	b.register(set)
	fs := flags(name, synopsis, description)
	if more != nil {
		more(fs)
	}
	if err := parse(fs, set, args); err != nil {
		return nil, nil, err
	}
	if b.BackupDir == "" {
		return nil, nil, usagef("SOCLE_BACKUP_DIR (-backup-dir) is required: where the backups are")
	}
	dir, err := filepath.Abs(b.BackupDir)
	if err != nil {
		return nil, nil, usagef("SOCLE_BACKUP_DIR: %v", err)
	}
	b.BackupDir = dir
	return &b, fs.Args(), nil
}

func runBackupBase(ctx context.Context, args []string, _ service.CommandEnv) error {
	var verify bool
	b, rest, err := backupFlags("backup base", "[flags]", `
Takes a base backup with pg_basebackup into <backup-dir>/base/<id>: tar format, the WAL it
needs alongside, a manifest with SHA-256 checksums. Then unpacks it aside and checks it with
pg_verifybackup. With no SOCLE_DATABASE_URL it backs the private cluster up (starting it if
needed, with WAL archiving into <backup-dir>/wal) and keeps the role socle connects as, so
that socle backup restore can bring it back. With SOCLE_DATABASE_URL it backs that server up:
its role needs REPLICATION, and archiving that server's WAL is its own configuration's.`, args,
		func(fs *flag.FlagSet) {
			fs.BoolVar(&verify, "verify", true, "unpack the backup aside and check it with pg_verifybackup")
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	binDir, err := database.FindBinDir()
	if err != nil {
		return err
	}
	url, source := b.DatabaseURL, ""
	extra := map[string][]byte{}
	if url == "" {
		d, err := b.openDB(ctx, log, 1)
		if err != nil {
			return err
		}
		defer d.Close()
		url, source = d.cluster.URL("postgres"), "private"
		var mode, command string
		if err := d.QueryRow(ctx, `SELECT current_setting('archive_mode'), current_setting('archive_command')`).Scan(&mode, &command); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if mode == "off" || command == "" {
			// Started by a process without SOCLE_BACKUP_DIR: the backup restores only to its own end.
			log.Warn("the private cluster does not archive its WAL: this backup restores only to the moment it ends; " +
				"set SOCLE_BACKUP_DIR for socle serve too, and restart it")
		}
		user, password := d.cluster.Credentials()
		extra["cluster.json"], _ = json.Marshal(map[string]string{"user": user, "password": password})
	} else {
		source = hostOf(url)
	}
	if err := os.MkdirAll(b.BackupDir, 0o711); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	bk, err := database.TakeBaseBackup(ctx, binDir, url, b.BackupDir, source, extra)
	if err != nil {
		return err
	}
	log.Info("base backup taken", "id", bk.ID, "bytes", bk.Bytes, "seconds", bk.Finished.Sub(bk.Started).Seconds())
	if verify {
		aside := filepath.Join(database.BaseDir(b.BackupDir), "."+bk.ID+".verify")
		defer os.RemoveAll(aside)
		os.RemoveAll(aside)
		if err := database.Unpack(bk.Dir, aside); err != nil {
			return err
		}
		if err := database.VerifyBackup(ctx, binDir, bk.Dir, aside); err != nil {
			return err
		}
	}
	state := "verified"
	if !verify {
		state = "not verified"
	}
	fmt.Fprintf(stdout, "backup %s: %s, %s, %s\n", bk.ID, bk.Dir, size(bk.Bytes), state)
	return nil
}

// hostOf is host:port of a database URL, for the list: never its user or password.
func hostOf(url string) string {
	rest, ok := strings.CutPrefix(url, "postgres://")
	if !ok {
		rest, _ = strings.CutPrefix(url, "postgresql://")
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func size(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func runBackupList(ctx context.Context, args []string, _ service.CommandEnv) error {
	b, rest, err := backupFlags("backup list", "[flags]", `
Lists the base backups of <backup-dir>, oldest first, with the moment from which each may be
restored, and what the WAL archive holds: the newest archived segment says up to when a
restore can go.`, args, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	all, err := database.ListBackups(b.BackupDir)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintf(stdout, "no base backup in %s\n", database.BaseDir(b.BackupDir))
	}
	for _, bk := range all {
		fmt.Fprintf(stdout, "%s  restorable from %s  %9s  %s\n", bk.ID, bk.Finished.Format(time.RFC3339), size(bk.Bytes), bk.Source)
	}
	w, err := database.SummariseWAL(b.BackupDir)
	if err != nil {
		return err
	}
	if w.Segments == 0 {
		fmt.Fprintf(stdout, "WAL archive %s: empty\n", database.WALDir(b.BackupDir))
		return nil
	}
	fmt.Fprintf(stdout, "WAL archive %s: %d segments, %s to %s, the last archived at %s\n",
		database.WALDir(b.BackupDir), w.Segments, w.First, w.Last, w.LastAt.Format(time.RFC3339))
	return nil
}

func runBackupRestore(ctx context.Context, args []string, _ service.CommandEnv) error {
	var to, at, id string
	var latest bool
	b, rest, err := backupFlags("backup restore", "--to DIR (--time RFC3339 | --latest) [flags]", `
Restores the database as it was at a moment into a new data directory, whose private cluster
then holds it: the newest base backup taken before that moment (or --backup) is checked with
pg_verifybackup and laid down, and PostgreSQL replays the WAL archive up to the moment and
promotes itself; the command waits for that end. Nothing is touched but DIR, which must be
missing or empty; on any failure it is left as it was. Then: socle serve --data-dir DIR
(with the PKI of the old data directory, or its own certificates). The database it was
backed up from is not touched either.`, args, func(fs *flag.FlagSet) {
		// This command's own flags, no settings of the platform: no environment variable.
		fs.StringVar(&to, "to", "", "the new data directory (missing or empty)")
		fs.StringVar(&at, "time", "", "the moment to restore, RFC 3339 (2026-12-04T14:05:00Z)")
		fs.BoolVar(&latest, "latest", false, "restore up to the last archived WAL segment")
		fs.StringVar(&id, "backup", "", "the base backup to start from (default: the newest before the moment)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if to == "" {
		return usagef("-to DIR is required: the new data directory")
	}
	if (at == "") == !latest {
		return usagef("give one of -time RFC3339 and -latest")
	}
	var target time.Time
	if at != "" {
		if target, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return usagef("-time %q: want RFC 3339, e.g. 2026-12-04T14:05:00Z", at)
		}
		if target.After(time.Now()) {
			return usagef("-time %s is in the future: -latest restores all that was archived", at)
		}
	}
	bk, err := chooseBackup(b.BackupDir, id, target)
	if err != nil {
		return err
	}
	creds, err := os.ReadFile(filepath.Join(bk.Dir, "cluster.json"))
	if err != nil {
		return fmt.Errorf("backup %s is of the server %s, not of socle's private cluster: restore it with that server's own tools (docs/operations-backup.md)", bk.ID, bk.Source)
	}
	var role struct{ User, Password string }
	if err := json.Unmarshal(creds, &role); err != nil || role.User == "" {
		return fmt.Errorf("backup %s: cluster.json is damaged", bk.ID)
	}
	if to, err = filepath.Abs(to); err != nil {
		return usagef("-to: %v", err)
	}
	created, err := emptyTarget(to)
	if err != nil {
		return err
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	b.DataDir = to
	err = restore(ctx, b, bk, target, role.User, role.Password, log)
	if err != nil && strings.Contains(err.Error(), "recovery ended before configured recovery target was reached") {
		w, _ := database.SummariseWAL(b.BackupDir)
		err = fmt.Errorf("the WAL archive does not reach -time %s: no transaction was archived after it (its last segment %s was archived at %s; socle backup list); nothing restored\n%w",
			at, w.Last, w.LastAt.Format(time.RFC3339), err)
	}
	if err != nil {
		// Leave DIR as it was: missing, or empty.
		if created {
			os.RemoveAll(to)
		} else if entries, rerr := os.ReadDir(to); rerr == nil {
			for _, e := range entries {
				os.RemoveAll(filepath.Join(to, e.Name()))
			}
		}
		return err
	}
	upTo := "the end of the WAL archive"
	if !target.IsZero() {
		upTo = target.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(stdout, "restored backup %s and the WAL up to %s into %s\nstart it: socle serve --data-dir %s\n"+
		"then take a base backup of it at once: it began a new timeline\n", bk.ID, upTo, to, to)
	return nil
}

// chooseBackup is the base backup named by id, or the newest one restorable at target (the
// newest of all when target is zero). A moment before the backup's end cannot be reached
// from it: replaying starts where the backup ends.
func chooseBackup(dir, id string, target time.Time) (database.Backup, error) {
	all, err := database.ListBackups(dir)
	if err != nil {
		return database.Backup{}, err
	}
	if len(all) == 0 {
		return database.Backup{}, fmt.Errorf("no base backup in %s: take one with socle backup base", database.BaseDir(dir))
	}
	if id != "" {
		for _, bk := range all {
			if bk.ID == id {
				if !target.IsZero() && target.Before(bk.Finished) {
					return bk, fmt.Errorf("-time %s is before backup %s was whole (%s): choose a later time or an older backup",
						target.Format(time.RFC3339), id, bk.Finished.Format(time.RFC3339))
				}
				return bk, nil
			}
		}
		return database.Backup{}, fmt.Errorf("-backup %q: no such base backup in %s (socle backup list)", id, database.BaseDir(dir))
	}
	if target.IsZero() {
		return all[len(all)-1], nil
	}
	for i := len(all) - 1; i >= 0; i-- {
		if !target.Before(all[i].Finished) {
			return all[i], nil
		}
	}
	return database.Backup{}, fmt.Errorf("-time %s is before the oldest base backup was whole (%s %s): nothing can restore it",
		target.Format(time.RFC3339), all[0].ID, all[0].Finished.Format(time.RFC3339))
}

// emptyTarget checks that dir is missing or an empty directory, and says if it is missing.
func emptyTarget(dir string) (missing bool, err error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("-to: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("-to %s: not a directory", dir)
	}
	if _, err := f.Readdirnames(1); err != io.EOF {
		return false, fmt.Errorf("-to %s is not empty: a restore goes into a new data directory, never over one", dir)
	}
	return false, nil
}

// restore lays bk down as the private cluster of b.DataDir, checks it, and runs the
// recovery to its end: the server replays the archive up to target and promotes itself.
func restore(ctx context.Context, b *base, bk database.Backup, target time.Time, user, password string, log *slog.Logger) error {
	binDir, err := database.FindBinDir()
	if err != nil {
		return err
	}
	if err := b.ensureDataDir(); err != nil {
		return err
	}
	root := filepath.Join(b.DataDir, "postgres")
	if err := os.Mkdir(root, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	cl := &database.Cluster{Root: root, SystemUser: b.PostgresUser, BinDir: binDir, Logger: log}
	if err := database.Unpack(bk.Dir, cl.PGDATA()); err != nil {
		return err
	}
	if err := database.VerifyBackup(ctx, binDir, bk.Dir, cl.PGDATA()); err != nil {
		return err
	}
	log.Info("base backup laid down and verified", "backup", bk.ID, "to", root)
	restoreCmd, err := shellWords("cp", database.WALDir(b.BackupDir)+"/")
	if err != nil {
		return err
	}
	// cp '<dir>/wal/'%f %p: the name PostgreSQL asks for, appended to the quoted directory.
	cl.Recovery = &database.Recovery{RestoreCommand: restoreCmd + "%f %p", Target: target}
	if err := cl.Prepare(); err != nil {
		return err
	}
	if err := cl.SetCredentials(user, password); err != nil {
		return err
	}
	if err := cl.ChownTree(root); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := cl.Start(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	err = cl.WaitRecovered(rctx)
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if serr := cl.Stop(sctx); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	log.Info("recovery done: the restored cluster is promoted and stopped", "to", root)
	return nil
}

func runArchiveWAL(ctx context.Context, args []string, _ service.CommandEnv) error {
	fs := flags("backup archive-wal", "--dir DIR PATH NAME", `
Stores the WAL segment PATH as DIR/NAME: copied to a temporary file, synced, then linked
under its name. A NAME already archived with the same content is success; with other content
it is refused, so that a segment is never overwritten (PostgreSQL 15 §26.3.1). The private
cluster runs it as its archive_command (%p %f) when SOCLE_BACKUP_DIR is set.`)
	dir := fs.String("dir", "", "the WAL archive directory")
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 2 {
		return usagef("want --dir DIR PATH NAME")
	}
	return database.ArchiveWAL(fs.Arg(0), *dir, fs.Arg(1))
}
