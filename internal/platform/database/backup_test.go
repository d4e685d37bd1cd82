package database_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socle/internal/platform/database"
)

// TestArchiveWALNeverOverwritesADifferentSegment checks what PostgreSQL 15 §26.3.1 asks of
// an archive_command: a segment is stored whole under its name; offered again with the same
// content (after a crash of the archiver) it is success; offered with other content it is
// refused and the archived copy stays as it was; a name that is no plain file name is
// refused before anything is written.
func TestArchiveWALNeverOverwritesADifferentSegment(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "wal")
	if err := os.Mkdir(archive, 0o700); err != nil {
		t.Fatal(err)
	}
	seg := bytes.Repeat([]byte("segment one "), 100000)
	src := filepath.Join(dir, "000000010000000000000001")
	os.WriteFile(src, seg, 0o600)
	name := filepath.Base(src)

	if err := database.ArchiveWAL(src, archive, name); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(archive, name)); !bytes.Equal(got, seg) {
		t.Fatalf("archived %d bytes, want the %d of the segment", len(got), len(seg))
	}
	// The same segment again: success, nothing changed.
	if err := database.ArchiveWAL(src, archive, name); err != nil {
		t.Fatalf("the same segment offered again: %v", err)
	}
	// Another content under the same name: refused, the archived one kept.
	other := filepath.Join(dir, "other")
	os.WriteFile(other, bytes.Repeat([]byte("segment two "), 100000), 0o600)
	err := database.ArchiveWAL(other, archive, name)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("a different segment under an archived name: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(archive, name)); !bytes.Equal(got, seg) {
		t.Fatal("the archived segment was changed")
	}
	for _, bad := range []string{"", "../escape", "a/b", ".hidden", ".."} {
		if err := database.ArchiveWAL(src, archive, bad); err == nil || !strings.Contains(err.Error(), "not a WAL file name") {
			t.Fatalf("name %q: %v", bad, err)
		}
	}
	// Nothing but the one segment: no temporary file left behind.
	entries, _ := os.ReadDir(archive)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("archive holds %v", names)
	}
}
