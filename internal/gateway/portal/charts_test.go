package portal

import (
	"strings"
	"testing"
)

func TestAChartIsAnImageWithItsTitleAndSummary(t *testing.T) {
	c := chart{ID: "c", Lang: "fr", Title: "Appels <par> heure", Desc: "3 appels", Labels: []string{"08h", "09h", "10h"},
		Series: []series{{Name: "population", Values: []float64{1, 0, 2}}, {Name: "état-civil & co", Values: []float64{0, 0, 1}}}}
	svg := string(c.SVG())
	for _, want := range []string{`role="img" aria-labelledby="c-t c-d"`, `<title id="c-t">Appels &lt;par&gt; heure</title>`,
		`<desc id="c-d">3 appels</desc>`, "état-civil &amp; co", ">08h</text>", ">4</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("no %s in %s", want, svg)
		}
	}
	// One bar part per non-zero value, plus one legend square per series.
	if n := strings.Count(svg, "<rect"); n != 3+2 {
		t.Errorf("%d rectangles", n)
	}
}

func TestTheAxisRoundsUp(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 1}, {0.75, 1}, {3, 5}, {62.5, 100}, {101, 200}, {4000, 5000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
