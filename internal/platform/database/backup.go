package database

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A backup directory holds what restores a PostgreSQL cluster to a moment (PostgreSQL 15
// §26.3, continuous archiving and point-in-time recovery):
//
//	<dir>/wal/              WAL segments, archived by the cluster as they complete
//	<dir>/base/<id>/        a base backup: base.tar, pg_wal.tar, backup_manifest,
//	                        backup.json (what Backup says) and, for the private cluster,
//	                        cluster.json (the role socle connects with: a secret, mode 0600)
//
// A base backup is written under base/.<id>.partial and renamed when whole: a listing never
// shows half a backup.

// Backup describes one base backup.
type Backup struct {
	ID string `json:"id"`
	// Started is taken before pg_basebackup starts, Finished after it ended: the backup is
	// consistent at some moment between, so a recovery may aim at Finished or later.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Source is "private" (socle's private cluster) or the server's host:port.
	Source string `json:"source"`
	Bytes  int64  `json:"bytes"`
	Dir    string `json:"-"`
}

// BackupIDLayout names a base backup after the moment it started, in UTC.
const BackupIDLayout = "20060102T150405Z"

// WALDir and BaseDir are a backup directory's parts.
func WALDir(dir string) string  { return filepath.Join(dir, "wal") }
func BaseDir(dir string) string { return filepath.Join(dir, "base") }

// ArchiveWAL stores the WAL segment at src as name in the archive directory dir: what the
// private cluster's archive_command runs. PostgreSQL 15 §26.3.1 asks of it:
//   - success only once the file is safely stored: it is copied to a temporary file, synced,
//     then linked under its name, and the directory synced;
//   - never overwrite an existing archive file: link(2) fails if the name exists. An
//     existing file with the very same content is success — the archiver may offer a
//     segment again after a crash between storing it and noting it — and any other is an
//     error, which keeps the segment in pg_wal and makes the archiver retry and complain.
func ArchiveWAL(src, dir, name string) error {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("archive-wal: %q is not a WAL file name", name)
	}
	dest := filepath.Join(dir, name)
	if _, err := os.Lstat(dest); err == nil {
		return sameOrRefuse(src, dest)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("archive-wal: %w", err)
	}
	defer in.Close()
	tmp := filepath.Join(dir, "."+name+".tmp"+strconv.Itoa(os.Getpid()))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("archive-wal: %w", err)
	}
	defer os.Remove(tmp)
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive-wal: copy %s: %w", name, err)
	}
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, os.ErrExist) { // stored meanwhile by another archiver
			return sameOrRefuse(src, dest)
		}
		return fmt.Errorf("archive-wal: %w", err)
	}
	return syncDir(dir)
}

// sameOrRefuse accepts an archive file already present only if it holds what src holds.
func sameOrRefuse(src, dest string) error {
	a, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("archive-wal: %w", err)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return fmt.Errorf("archive-wal: %w", err)
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("archive-wal: %s is already archived with other content: refusing to overwrite it "+
			"(two clusters archiving into one directory? see docs/operations-backup.md)", dest)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("archive-wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("archive-wal: sync %s: %w", dir, err)
	}
	return nil
}

// TakeBaseBackup runs pg_basebackup (from binDir) against the server at connURL into
// <dir>/base/<id>/: tar format, the WAL the backup needs streamed alongside (pg_wal.tar),
// a manifest with SHA-256 checksums (backup_manifest, which pg_verifybackup checks). The
// role needs the REPLICATION attribute and pg_hba.conf a replication line (the private
// cluster's superuser has both). extra files (name → content) are written next to it, mode
// 0600. The password goes through the environment, never on a command line.
func TakeBaseBackup(ctx context.Context, binDir, connURL, dir, source string, extra map[string][]byte) (Backup, error) {
	u, err := url.Parse(connURL)
	if err != nil || u.User == nil {
		return Backup{}, errors.New("backup: the database URL is not a postgres:// URL with a user")
	}
	password, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	started := time.Now().UTC()
	b := Backup{ID: started.Format(BackupIDLayout), Started: started, Source: source}
	base := BaseDir(dir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return b, fmt.Errorf("backup: %w", err)
	}
	b.Dir = filepath.Join(base, b.ID)
	if _, err := os.Stat(b.Dir); err == nil {
		return b, fmt.Errorf("backup: %s exists already: one base backup a second at most", b.Dir)
	}
	partial := filepath.Join(base, "."+b.ID+".partial")
	os.RemoveAll(partial) // a crashed run's
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_basebackup"), "-d", u.String(), "-D", partial,
		"--format=tar", "--wal-method=stream", "--checkpoint=fast", "--manifest-checksums=SHA256",
		"--label=socle "+b.ID, "--no-password")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TZ=UTC", "PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=15"}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(partial)
		return b, fmt.Errorf("backup: pg_basebackup: %v: %s", err, strings.TrimSpace(string(out)))
	}
	b.Finished = time.Now().UTC()
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(partial, name), content, 0o600); err != nil {
			os.RemoveAll(partial)
			return b, fmt.Errorf("backup: %w", err)
		}
	}
	b.Bytes = dirSize(partial)
	meta, _ := json.MarshalIndent(b, "", "  ")
	if err := os.WriteFile(filepath.Join(partial, "backup.json"), meta, 0o600); err != nil {
		os.RemoveAll(partial)
		return b, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(partial, b.Dir); err != nil {
		os.RemoveAll(partial)
		return b, fmt.Errorf("backup: %w", err)
	}
	return b, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// ListBackups lists the whole base backups of a backup directory, oldest first.
func ListBackups(dir string) ([]Backup, error) {
	entries, err := os.ReadDir(BaseDir(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var all []Backup
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(BaseDir(dir), e.Name())
		raw, err := os.ReadFile(filepath.Join(p, "backup.json"))
		if err != nil {
			continue // not one of ours
		}
		var b Backup
		if err := json.Unmarshal(raw, &b); err != nil || b.ID != e.Name() {
			return nil, fmt.Errorf("backup: %s/backup.json is damaged", p)
		}
		b.Dir = p
		all = append(all, b)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Finished.Before(all[j].Finished) })
	return all, nil
}

// WALSummary is what the archive holds: its segments, the first and last by name, and
// when the last was archived.
type WALSummary struct {
	Segments    int
	First, Last string
	LastAt      time.Time
}

// SummariseWAL reads a backup directory's WAL archive.
func SummariseWAL(dir string) (WALSummary, error) {
	var s WALSummary
	entries, err := os.ReadDir(WALDir(dir))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("backup: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || len(name) != 24 { // segments, not .history or partial copies
			continue
		}
		s.Segments++
		if s.First == "" || name < s.First {
			s.First = name
		}
		if name > s.Last {
			s.Last = name
			if fi, err := e.Info(); err == nil {
				s.LastAt = fi.ModTime().UTC()
			}
		}
	}
	return s, nil
}

// Unpack lays a tar-format base backup down in pgdata, which must not exist: base.tar in
// it, pg_wal.tar in its pg_wal. A backup with tablespaces (other tar files) is refused:
// socle creates none. Names are checked: nothing may land outside pgdata.
func Unpack(backupDir, pgdata string) error {
	entries, err := os.ReadDir(backupDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".tar") && n != "base.tar" && n != "pg_wal.tar" {
			return fmt.Errorf("restore: %s has a tablespace (%s): not supported", backupDir, n)
		}
	}
	if err := os.Mkdir(pgdata, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := untar(filepath.Join(backupDir, "base.tar"), pgdata); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(pgdata, "pg_wal"), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return untar(filepath.Join(backupDir, "pg_wal.tar"), filepath.Join(pgdata, "pg_wal"))
}

func untar(file, dest string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	r := tar.NewReader(f)
	for {
		h, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore: %s: %w", file, err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("restore: %s: entry %q leaves the data directory", file, h.Name)
		}
		p := filepath.Join(dest, name)
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, mode|0o700); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			_, err = io.Copy(out, r)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("restore: %s: %w", name, err)
			}
		default:
			return fmt.Errorf("restore: %s: entry %q of type %q: not supported", file, h.Name, string(h.Typeflag))
		}
	}
}

// VerifyBackup checks a base backup unpacked in pgdata against its manifest with
// pg_verifybackup: every file's size and SHA-256, and that the WAL it needs is there and
// parses. Run it before anything else is written in pgdata: pg_verifybackup reports files
// the manifest does not list.
func VerifyBackup(ctx context.Context, binDir, backupDir, pgdata string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_verifybackup"), "--manifest-path", filepath.Join(backupDir, "backup_manifest"), pgdata)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TZ=UTC"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restore: pg_verifybackup finds %s damaged: %v: %s", backupDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
