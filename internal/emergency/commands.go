package emergency

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/platform/service"
)

// commands are the service's subcommands of socle: import, sim (sim.go), and its
// benchmarks in socle bench (bench.go).
func commands() []service.Command {
	return []service.Command{
		{Name: "import", Summary: "replace a set of boundaries with an official GeoJSON file",
			Description: "Replaces a set of boundaries with an official GeoJSON file (RFC 7946), whole or not at all.",
			Subcommands: []service.Command{
				importCommand("communes", "the communes (INSEE code, name, polygon): where a caller is",
					"socle import communes communes-2025.geojson", geo.ParseCommunes, directory.ImportCommunes),
				importCommand("departements", "the départements' outlines (code, name, polygon)",
					"socle import departements departements-2025.geojson", geo.ParseDepartements, directory.ImportDepartements),
			}},
		simCommands(),
		benchCommands(),
	}
}

// importCommand is `socle import <dataset>`: parseFile reads the GeoJSON file whole,
// importSet replaces the set in one transaction.
func importCommand(dataset, summary, example string,
	parseFile func(io.Reader) ([]geo.Commune, error),
	importSet func(context.Context, *pgxpool.Pool, []geo.Commune, func(done, total int)) (directory.ImportReport, error),
) service.Command {
	return service.Command{Name: dataset, Summary: summary, Synopsis: "FILE.geojson [flags]", Example: example, Database: true,
		Description: `
Replaces the whole set of communes (or départements) with the boundaries of FILE: a GeoJSON
FeatureCollection of Polygon or MultiPolygon features with properties code (INSEE code, or
département code such as 75, 2A, 971) and nom, the format of the public "contours
administratifs" datasets. The file is checked entirely first; the replacement is one
transaction, so the routing never sees a mix of old and new boundaries. It reports the codes
that appeared and vanished (communes merge and split every year) and, for communes, the PDAAU
rows left without their commune.`,
		Run: func(ctx context.Context, args []string, env service.CommandEnv) error {
			if err := env.Parse(args); err != nil {
				return err
			}
			fs, stdout := env.Flags(), env.Stdout()
			if fs.NArg() != 1 {
				return service.Usagef("want one file: socle import %s FILE.geojson", dataset)
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
			bar := newProgress(env.Stderr(), "reading "+path)
			cs, err := parseFile(&countingReader{r: f, fn: func(n int64) { bar.set(n, info.Size()) }})
			bar.done()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			pool, err := env.OpenDB(ctx, 2)
			if err != nil {
				return err
			}
			bar = newProgress(env.Stderr(), "writing "+dataset)
			rep, err := importSet(ctx, pool, cs, func(done, total int) { bar.set(int64(done), int64(total)) })
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
		}}
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
