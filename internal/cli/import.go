package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/platform/config"
)

func init() {
	register(command{name: "import", summary: "replace the commune or département boundaries with an official GeoJSON file", run: runImport})
}

func runImport(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "communes" && args[0] != "departements") {
		return group(args, "import", "Replaces a set of boundaries with an official GeoJSON file (RFC 7946), whole or not at all.",
			[][2]string{{"communes", "the communes (INSEE code, name, polygon): where a caller is"},
				{"departements", "the départements' outlines (code, name, polygon)"}},
			"socle import communes communes-2025.geojson")
	}
	dataset := args[0]
	parseFile, importSet := geo.ParseCommunes, directory.ImportCommunes
	if dataset == "departements" {
		parseFile, importSet = geo.ParseDepartements, directory.ImportDepartements
	}
	var b base
	set := config.New()
	b.register(set)
	fs := flags("import "+dataset, "FILE.geojson [flags]", `
Replaces the whole set of communes (or départements) with the boundaries of FILE: a GeoJSON
FeatureCollection of Polygon or MultiPolygon features with properties code (INSEE code, or
département code such as 75, 2A, 971) and nom, the format of the public "contours
administratifs" datasets. The file is checked entirely first; the replacement is one
transaction, so the routing never sees a mix of old and new boundaries. It reports the codes
that appeared and vanished (communes merge and split every year) and, for communes, the PDAAU
rows left without their commune.`)
	if err := parse(fs, set, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one file: socle import %s FILE.geojson", dataset)
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	bar := newProgress(stderr, "reading "+path)
	cs, err := parseFile(&countingReader{r: f, fn: func(n int64) { bar.set(n, info.Size()) }})
	bar.done()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	d, err := b.openDB(ctx, log, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := migrate(ctx, d.Pool, log); err != nil {
		return err
	}
	bar = newProgress(stderr, "writing "+dataset)
	rep, err := importSet(ctx, d.Pool, cs, func(done, total int) { bar.set(int64(done), int64(total)) })
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "import: %d %s (%d appeared, %d vanished, %d changed)\n",
		rep.Total, dataset, len(rep.Appeared), len(rep.Vanished), rep.Changed)
	list := func(title string, codes []string) {
		if len(codes) > 0 {
			fmt.Fprintf(stdout, "  %s: %s\n", title, strings.Join(codes, " "))
		}
	}
	list("appeared", rep.Appeared)
	list("vanished", rep.Vanished)
	if n := len(rep.Orphaned); n > 0 {
		fmt.Fprintf(stdout, "  %d PDAAU rows name a commune that no longer exists: update the PDAAU\n", n)
		for i, r := range rep.Orphaned {
			if i == 50 {
				fmt.Fprintf(stdout, "    ... and %d more\n", n-50)
				break
			}
			fmt.Fprintf(stdout, "    %s  %-6s -> %s\n", r.INSEE, r.Number, r.RoutingNumber)
		}
	}
	return nil
}

// countingReader reports how many bytes have been read.
type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

// progress draws a bar on a terminal, and a line per tenth elsewhere (logs, CI).
type progress struct {
	w     io.Writer
	label string
	tty   bool
	last  int
	shown time.Time
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, last: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) set(done, total int64) {
	if total <= 0 {
		return
	}
	pct := int(done * 100 / total)
	if p.tty {
		if pct == p.last || time.Since(p.shown) < 100*time.Millisecond && pct < 100 {
			return
		}
		p.shown = time.Now()
		bar := strings.Repeat("█", pct/4) + strings.Repeat("·", 25-pct/4)
		fmt.Fprintf(p.w, "\r%s %s %3d%%", p.label, bar, pct)
	} else if pct/10 != p.last/10 || p.last < 0 {
		fmt.Fprintf(p.w, "%s: %d%%\n", p.label, pct)
	}
	p.last = pct
}

func (p *progress) done() {
	if p.tty && p.last >= 0 {
		fmt.Fprintln(p.w)
	}
}
